package compile

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/route"
)

// certState is one certificate as last compiled: its catalog value and its
// parsed form, reused while the value does not change, so that a compile
// never parses a certificate twice.
type certState struct {
	src  *catalog.Certificate
	cert *route.Cert
}

// ApplyLocal replaces the certificates of this router's cert dir (see
// package certdir) with certs, by name, and returns the next table
// generation at the same registry revision.
func (c *Compiler) ApplyLocal(rev uint64, certs map[string]*catalog.Certificate) *route.Table {
	if c.applyCerts(route.SourceDir, certs, true) {
		c.restream()
	}
	return c.table(rev)
}

// applyCerts applies certificate changes of one source: changes maps a
// name to its new value (nil: deleted). With replace, certificates of that
// source not in changes are deleted. It reports whether anything changed.
func (c *Compiler) applyCerts(source string, changes map[string]*catalog.Certificate, replace bool) bool {
	changed := false
	prefix := source + "/"
	if replace {
		for key := range c.certs {
			if name, ok := strings.CutPrefix(key, prefix); ok {
				if _, keep := changes[name]; !keep {
					delete(c.certs, key)
					changed = true
				}
			}
		}
	}
	for name, src := range changes {
		key := prefix + name
		old := c.certs[key]
		switch {
		case src == nil && old == nil:
		case src == nil:
			delete(c.certs, key)
			changed = true
		case old != nil && (old.src == src || old.src.Equal(src)):
			old.src = src
		default:
			c.certs[key] = &certState{src: src, cert: parseCert(source, src)}
			changed = true
		}
	}
	return changed
}

// parseCert parses a validated certificate; one that does not parse (a
// registry written around webrouter's checks) is kept without a TLS form
// and reported by restream.
func parseCert(source string, src *catalog.Certificate) *route.Cert {
	tc, info, err := src.Parse()
	rc := &route.Cert{Name: src.Name, Source: source, TLS: tc, Info: info}
	if err != nil {
		rc.TLS = nil
		rc.Info = catalog.CertInfo{Subject: err.Error()}
	}
	return rc
}

// restream rebuilds the connection-level view from every certificate and
// every service's tls:// and tcp:// mountpoints. When two services claim
// one of them (possible only if the registry was written around
// webrouter's checks) the one whose name sorts first wins and the clash is
// reported in the table's problems.
func (c *Compiler) restream() {
	var problems []string
	var certs []*route.Cert
	for _, key := range slices.Sorted(maps.Keys(c.certs)) {
		cs := c.certs[key]
		if cs.cert.TLS == nil {
			problems = append(problems, fmt.Sprintf("certificate %q (%s) does not parse and is not served: %s", cs.src.Name, cs.cert.Source, cs.cert.Info.Subject))
			continue
		}
		certs = append(certs, cs.cert)
	}
	names := make([]string, 0, len(c.byName))
	for n := range c.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	owner := map[string]string{}
	var pass []route.Route
	tcp := map[int]int{}
	for _, n := range names {
		cs := c.byName[n]
		for _, m := range cs.entry.Service.MountpointsParsed() {
			if m.HTTP() {
				continue
			}
			key := m.String()
			if o, taken := owner[key]; taken {
				problems = append(problems, fmt.Sprintf("mountpoint %q is claimed by services %q and %q; %q serves it", key, o, n, o))
				continue
			}
			owner[key] = n
			switch m.Scheme {
			case catalog.SchemeTCP:
				tcp[m.Port] = cs.slot
			case catalog.SchemeTLS:
				host := m.Host
				if m.Wildcard {
					host = "*." + host
				}
				pass = append(pass, route.Route{Host: host, Slot: cs.slot})
			}
		}
	}
	c.streams = route.NewStreams(certs, pass, tcp)
	c.streamProblems = problems
}

// responseHeaders turns a service's response_headers into the table's
// form, sorted by name.
func responseHeaders(h map[string]string) []route.Header {
	if len(h) == 0 {
		return nil
	}
	out := make([]route.Header, 0, len(h))
	for _, name := range slices.Sorted(maps.Keys(h)) {
		out = append(out, route.Header{Name: name, Value: h[name]})
	}
	return out
}
