package route

import (
	"crypto/tls"
	"slices"
	"strings"

	"github.com/webrouter/webrouter/internal/catalog"
)

// Certificate sources.
const (
	SourceRegistry = "registry" // PUT /v1/certificates, shared by every router of the registry
	SourceDir      = "dir"      // --cert-dir, this router only
)

// Cert is one certificate as a table generation serves it. Immutable; the
// parsed form is reused across generations while the certificate does not
// change.
type Cert struct {
	Name   string
	Source string // SourceRegistry or SourceDir
	TLS    *tls.Certificate
	Info   catalog.CertInfo
}

// Streams is the connection-level view of a table: the certificate for
// each server name (SNI), the TLS passthrough routes and the TCP ports.
// It is immutable and shared between generations while no certificate and
// no tls:// or tcp:// mountpoint changes.
//
// Certificate selection: the exact name, then the wildcard one label up
// ("*.example.com" serves "a.example.com", not "a.b.example.com", as TLS
// clients check); among certificates for one name the one that expires
// last wins, so a renewed certificate takes over as soon as it is put.
// Passthrough names match like HTTP mountpoints: exact, then the longest
// wildcard suffix at any depth.
type Streams struct {
	certs     []*Cert          // sorted by source, then name
	byName    map[string]*Cert // registry first: a dir certificate of the same name is shadowed
	exact     map[string]*Cert
	wild      map[string]*Cert // by suffix: "example.com" for "*.example.com"
	passExact map[string]int   // server name → slot
	passWild  map[string]int   // suffix → slot
	tcp       map[int]int      // port → slot
	ports     []int            // sorted
}

// NewStreams builds the view from certificates and from the passthrough
// and TCP routes. Duplicates must have been resolved by the caller; the
// first one given wins.
func NewStreams(certs []*Cert, pass []Route, tcp map[int]int) *Streams {
	s := &Streams{byName: map[string]*Cert{}, exact: map[string]*Cert{}, wild: map[string]*Cert{},
		passExact: map[string]int{}, passWild: map[string]int{}, tcp: tcp}
	s.certs = slices.Clone(certs)
	slices.SortFunc(s.certs, func(a, b *Cert) int {
		if a.Source != b.Source {
			return strings.Compare(b.Source, a.Source) // "registry" before "dir"
		}
		return strings.Compare(a.Name, b.Name)
	})
	for _, c := range s.certs {
		if _, ok := s.byName[c.Name]; !ok {
			s.byName[c.Name] = c
		}
		for _, n := range c.Info.Names {
			m, key := s.exact, n
			if rest, ok := strings.CutPrefix(n, "*."); ok {
				m, key = s.wild, rest
			}
			if old, ok := m[key]; !ok || c.Info.NotAfter.After(old.Info.NotAfter) {
				m[key] = c
			}
		}
	}
	for _, r := range pass {
		m, key := s.passExact, r.Host
		if rest, ok := strings.CutPrefix(r.Host, "*."); ok {
			m, key = s.passWild, rest
		}
		if _, dup := m[key]; !dup {
			m[key] = r.Slot
		}
	}
	if s.tcp == nil {
		s.tcp = map[int]int{}
	}
	for p := range s.tcp {
		s.ports = append(s.ports, p)
	}
	slices.Sort(s.ports)
	return s
}

// SetStreams attaches the connection-level view to a table. It is part of
// building a table: call it before the table is published.
func (t *Table) SetStreams(s *Streams) { t.streams = s }

// Streams returns the table's connection-level view (nil if none).
func (t *Table) Streams() *Streams { return t.streams }

// Certificate returns the certificate for a TLS server name (SNI), or nil
// when none matches. serverName is matched case-insensitively.
func (t *Table) Certificate(serverName string) *tls.Certificate {
	s := t.streams
	if s == nil || serverName == "" {
		return nil
	}
	name := normalizeHost(serverName)
	if c := s.exact[name]; c != nil {
		return c.TLS
	}
	if i := strings.IndexByte(name, '.'); i >= 0 {
		if c := s.wild[name[i+1:]]; c != nil {
			return c.TLS
		}
	}
	return nil
}

// CertificateNamed returns the certificate called name (the registry's
// before the cert dir's), or nil.
func (t *Table) CertificateNamed(name string) *tls.Certificate {
	if t.streams == nil {
		return nil
	}
	if c := t.streams.byName[name]; c != nil {
		return c.TLS
	}
	return nil
}

// Certificates returns every certificate, the registry's first, each
// sorted by name. The slice must not be modified.
func (t *Table) Certificates() []*Cert {
	if t.streams == nil {
		return nil
	}
	return t.streams.certs
}

// Passthrough returns the service whose tls:// mountpoint matches a TLS
// server name, or nil.
func (t *Table) Passthrough(serverName string) *Service {
	s := t.streams
	if s == nil || serverName == "" {
		return nil
	}
	name := normalizeHost(serverName)
	if slot, ok := s.passExact[name]; ok {
		return t.services[slot]
	}
	for i := 0; i < len(name); i++ {
		if name[i] == '.' {
			if slot, ok := s.passWild[name[i+1:]]; ok {
				return t.services[slot]
			}
		}
	}
	return nil
}

// HasPassthrough reports whether any tls:// mountpoint exists, so that the
// HTTPS entry point can skip looking for one.
func (t *Table) HasPassthrough() bool {
	return t.streams != nil && len(t.streams.passExact)+len(t.streams.passWild) > 0
}

// PassthroughRoutes calls fn for every tls:// mountpoint with its service.
func (t *Table) PassthroughRoutes(fn func(host string, svc *Service)) {
	if t.streams == nil {
		return
	}
	for h, slot := range t.streams.passExact {
		fn(h, t.services[slot])
	}
	for h, slot := range t.streams.passWild {
		fn("*."+h, t.services[slot])
	}
}

// TCP returns the service listening on a TCP port, or nil.
func (t *Table) TCP(port int) *Service {
	if t.streams == nil {
		return nil
	}
	if slot, ok := t.streams.tcp[port]; ok {
		return t.services[slot]
	}
	return nil
}

// TCPPorts returns the TCP ports of the table, sorted. The slice must not
// be modified.
func (t *Table) TCPPorts() []int {
	if t.streams == nil {
		return nil
	}
	return t.streams.ports
}
