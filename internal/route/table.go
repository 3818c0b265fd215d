// Package route is the routing table: one immutable generation of every
// host+path and the service behind it.
//
// A Table is built by package compile and swapped in by package live;
// request goroutines only call Lookup, which takes no lock and does not
// allocate. Host matching: an exact host beats a wildcard; among wildcards
// the longest suffix wins ("*.a.demo.com" before "*.demo.com"); "*.demo.com"
// matches any name ending in ".demo.com" but not "demo.com" itself. Within a
// host the longest path prefix wins, matched on a segment boundary. When an
// exact host has no route for a path, its wildcard hosts are tried next.
package route

import (
	"strings"
	"time"

	"github.com/webrouter/webrouter/internal/ascii"
	"github.com/webrouter/webrouter/internal/balance"
	"github.com/webrouter/webrouter/internal/upstream"
)

// Service is one service as a table generation routes it. Immutable.
type Service struct {
	Name        string
	Balance     string
	StripPrefix bool
	HTTPSOnly   bool
	MaxFails    int
	FailTimeout time.Duration
	Healthcheck string
	Targets     []*upstream.Target // sorted by instance id
	Picker      balance.Picker

	// HTTP options.
	ResponseHeaders []Header // set on every response; an empty value removes the header
	SecurityHeaders bool     // add HSTS, X-Frame-Options, nosniff to HTTPS responses
	H2C             bool     // HTTP/2 over cleartext to the instances

	// Connection options (tls:// and tcp:// mountpoints).
	ProxyProtocol string        // "", "v1" or "v2"
	IdleTimeout   time.Duration // 0 for services without connection mountpoints

	// Local is a data plane's own state for the service in this table
	// (the proxy's metrics observer), kept for as long as the table.
	Local upstream.Slot
}

// Header is one response header a service sets.
type Header struct {
	Name  string // canonical
	Value string
}

// Route is one host+path and the slot of the service it leads to.
type Route struct {
	Host string // as written: "demo.com" or "*.demo.com"
	Path string // "" for the whole host, else "/seg[/seg…]"
	Slot int    // index into the table's services
}

// Index maps hosts to their routes. It is immutable and is shared between
// table generations for as long as no mountpoint changes.
type Index struct {
	exact map[string][]Route // by host
	wild  map[string][]Route // by suffix: "demo.com" for "*.demo.com"
	n     int
}

// NewIndex builds an index from routes. Duplicate host+path pairs must have
// been resolved by the caller; the first one given wins.
func NewIndex(routes []Route) *Index {
	ix := &Index{exact: map[string][]Route{}, wild: map[string][]Route{}}
	for _, r := range routes {
		m, key := ix.exact, r.Host
		if strings.HasPrefix(r.Host, "*.") {
			m, key = ix.wild, r.Host[2:]
		}
		rs := m[key]
		dup := false
		for _, o := range rs {
			dup = dup || o.Path == r.Path
		}
		if dup {
			continue
		}
		// Keep the longest path first so the first match wins.
		i := 0
		for i < len(rs) && len(rs[i].Path) >= len(r.Path) {
			i++
		}
		rs = append(rs, Route{})
		copy(rs[i+1:], rs[i:])
		rs[i] = r
		m[key] = rs
		ix.n++
	}
	return ix
}

// Len returns the number of routes.
func (ix *Index) Len() int { return ix.n }

// Table is one generation of the routing table.
type Table struct {
	Gen      uint64     // generation, +1 per swap
	Rev      uint64     // registry revision it was compiled from
	Problems []string   // what could not be routed and why (for the admin API)
	index    *Index     // never nil
	services []*Service // by slot; nil slots are free
	streams  *Streams   // certificates, passthrough and TCP; nil when none
}

// New returns a table. services is indexed by Route.Slot and must not be
// modified afterwards.
func New(gen, rev uint64, ix *Index, services []*Service, problems []string) *Table {
	if ix == nil {
		ix = NewIndex(nil)
	}
	return &Table{Gen: gen, Rev: rev, index: ix, services: services, Problems: problems}
}

// Index returns the table's host index.
func (t *Table) Index() *Index { return t.index }

// Services returns the services by slot (nil for free slots). The slice
// must not be modified.
func (t *Table) Services() []*Service { return t.services }

// Lookup finds the route for a request's Host header and URL path. host
// may carry a port and any letter case; path "" counts as "/". It returns
// nil, nil when nothing matches.
func (t *Table) Lookup(host, path string) (*Route, *Service) {
	host = normalizeHost(host)
	if rs, ok := t.index.exact[host]; ok {
		if r := matchPath(rs, path); r != nil {
			return r, t.services[r.Slot]
		}
	}
	for i := 0; i < len(host); i++ {
		if host[i] != '.' {
			continue
		}
		if rs, ok := t.index.wild[host[i+1:]]; ok {
			if r := matchPath(rs, path); r != nil {
				return r, t.services[r.Slot]
			}
		}
	}
	return nil, nil
}

// Routes calls fn for every route with its service.
func (t *Table) Routes(fn func(Route, *Service)) {
	for _, m := range []map[string][]Route{t.index.exact, t.index.wild} {
		for _, rs := range m {
			for _, r := range rs {
				fn(r, t.services[r.Slot])
			}
		}
	}
}

// matchPath returns the first (longest) route whose path is a segment
// prefix of path.
func matchPath(rs []Route, path string) *Route {
	for i := range rs {
		p := rs[i].Path
		if p == "" || path == p || len(path) > len(p) && path[len(p)] == '/' && path[:len(p)] == p {
			return &rs[i]
		}
	}
	return nil
}

// normalizeHost strips the port and a trailing dot and lower-cases host,
// without allocating when host is already in that form.
func normalizeHost(host string) string {
	if strings.HasPrefix(host, "[") {
		if i := strings.IndexByte(host, ']'); i > 0 {
			host = host[1:i]
		}
	} else if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	host = strings.TrimSuffix(host, ".")
	if ascii.IsLower(host) {
		return host // the common case, found without strings.ToLower's look at each byte
	}
	return strings.ToLower(host)
}

// StripPrefix removes the route's path prefix from a request path:
// "/hello/x" → "/x", "/hello" → "/". The route's path must match.
func StripPrefix(prefix, path string) string {
	rest := path[len(prefix):]
	if rest == "" {
		return "/"
	}
	return rest
}
