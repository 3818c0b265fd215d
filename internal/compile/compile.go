// Package compile turns catalog changes into routing tables.
//
// A Compiler keeps what it built last time and, for each batch of changes,
// rebuilds only the services that changed: an instance write costs the size
// of its service, not of the table. The host index is rebuilt only when a
// service's mountpoints change (or a service comes or goes). Compile does no
// I/O; the only state it touches outside itself is the reference count of
// per-address runtime state in an upstream.Set.
package compile

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/webrouter/webrouter/internal/balance"
	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/route"
	"github.com/webrouter/webrouter/internal/upstream"
)

// Compiler builds successive table generations. It is not safe for
// concurrent use: one goroutine (package live) owns it.
type Compiler struct {
	hosts    *upstream.Set
	gen      uint64
	byName   map[string]*compiled
	slots    []*route.Service // as published in the last table; never modified in place
	free     []int
	index    *route.Index
	problems []string

	certs          map[string]*certState // by source + "/" + name; see streams.go
	streams        *route.Streams
	streamProblems []string
}

type compiled struct {
	slot  int
	entry *catalog.Entry
	svc   *route.Service
}

// New returns a compiler whose targets take their runtime state from hosts.
func New(hosts *upstream.Set) *Compiler {
	return &Compiler{hosts: hosts, byName: map[string]*compiled{}, index: route.NewIndex(nil),
		certs: map[string]*certState{}, streams: route.NewStreams(nil, nil, nil)}
}

// Apply applies one batch and returns the next table generation.
func (c *Compiler) Apply(b catalog.Batch) *route.Table {
	var slots []*route.Service
	edit := func() {
		if slots == nil {
			slots = slices.Clone(c.slots)
		}
	}
	reindex := false
	for name, e := range b.Changes {
		old := c.byName[name]
		switch {
		case e == nil && old == nil:
		case e == nil:
			edit()
			slots[old.slot] = nil
			c.free = append(c.free, old.slot)
			delete(c.byName, name)
			c.release(old.svc.Targets, nil)
			reindex = true
		case old != nil && old.entry == e:
		default:
			edit()
			cs := &compiled{entry: e, svc: c.service(e, old)}
			if old != nil {
				cs.slot = old.slot
				reindex = reindex || !slices.Equal(old.entry.Service.Mountpoints, e.Service.Mountpoints)
			} else {
				cs.slot = c.allocSlot(&slots)
				reindex = true
			}
			slots[cs.slot] = cs.svc
			c.byName[name] = cs
		}
	}
	if slots != nil {
		c.slots = slots
	}
	if reindex {
		c.reindex()
	}
	certsChanged := c.applyCerts(route.SourceRegistry, b.Certificates, false)
	if reindex || certsChanged {
		c.restream()
	}
	return c.table(b.Rev)
}

// table returns the next generation at registry revision rev.
func (c *Compiler) table(rev uint64) *route.Table {
	c.gen++
	problems := c.problems
	if len(c.streamProblems) > 0 {
		problems = append(slices.Clip(problems), c.streamProblems...)
	}
	t := route.New(c.gen, rev, c.index, c.slots, problems)
	t.SetStreams(c.streams)
	return t
}

func (c *Compiler) allocSlot(slots *[]*route.Service) int {
	if n := len(c.free); n > 0 {
		s := c.free[n-1]
		c.free = c.free[:n-1]
		return s
	}
	*slots = append(*slots, nil)
	return len(*slots) - 1
}

// service compiles one entry, reusing old's targets for instances whose
// address, weight, state and probe did not change. Draining instances keep
// their endpoint (and what is in flight on it) but start its drain.
func (c *Compiler) service(e *catalog.Entry, old *compiled) *route.Service {
	s := e.Service
	check := checkOf(s)
	var prev map[string]*upstream.Target
	if old != nil {
		prev = make(map[string]*upstream.Target, len(old.svc.Targets))
		for _, t := range old.svc.Targets {
			prev[t.ID] = t
		}
	}
	targets := make([]*upstream.Target, 0, len(e.Instances))
	kept := make(map[*upstream.Target]bool, len(prev))
	for _, in := range e.Instances {
		addr := in.HostPort()
		t := prev[in.ID]
		if t != nil && t.Addr == addr && t.Weight == in.Weight && t.State == string(in.State) && sameCheck(t.Check, check) {
			kept[t] = true
		} else {
			t = &upstream.Target{
				ID: in.ID, Addr: addr, Weight: in.Weight, State: string(in.State), Ready: in.State == catalog.Ready,
				Check: check, Host: c.hosts.Acquire(addr, check), Endpoint: c.hosts.AcquireEndpoint(s.Name + "/" + in.ID),
			}
		}
		if t.Ready {
			c.hosts.Undrain(t.Endpoint)
		} else {
			c.hosts.Drain(t.Endpoint)
		}
		targets = append(targets, t)
	}
	if old != nil {
		c.release(old.svc.Targets, kept)
	}
	picker, err := balance.New(s.Balance, targets)
	if err != nil {
		// Catalog validation makes this unreachable; route anyway.
		picker, _ = balance.New(catalog.RoundRobin, targets)
	}
	rs := &route.Service{
		Name: s.Name, Balance: s.Balance, StripPrefix: s.StripPrefix, HTTPSOnly: s.HTTPSOnly,
		MaxFails: s.MaxFails, FailTimeout: time.Duration(s.FailTimeout), Healthcheck: s.Healthcheck,
		Targets: targets, Picker: picker,
		SecurityHeaders: s.SecurityHeaders, H2C: s.BackendProtocol == catalog.BackendH2C,
		ProxyProtocol: s.ProxyProtocol, IdleTimeout: time.Duration(s.IdleTimeout),
	}
	if old != nil && maps.Equal(old.entry.Service.ResponseHeaders, s.ResponseHeaders) {
		rs.ResponseHeaders = old.svc.ResponseHeaders
	} else {
		rs.ResponseHeaders = responseHeaders(s.ResponseHeaders)
	}
	return rs
}

// checkOf is the probe a service wants for its addresses, or nil. HTTP
// probes carry the service's first exact host as their Host header.
func checkOf(s catalog.Service) *upstream.Check {
	if s.Healthcheck == "" {
		return nil
	}
	c := &upstream.Check{
		Interval: time.Duration(s.HealthInterval), Timeout: time.Duration(s.HealthTimeout),
		Rise: s.HealthRise, Fall: s.HealthFall,
	}
	if s.Healthcheck != "tcp" {
		c.Path, c.Status = s.Healthcheck, s.HealthStatus
		for _, m := range s.MountpointsParsed() {
			if m.HTTP() && !m.Wildcard {
				c.Host = m.Host
				break
			}
		}
	}
	return c
}

func sameCheck(a, b *upstream.Check) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

// release drops the Set references of targets not in keep.
func (c *Compiler) release(targets []*upstream.Target, keep map[*upstream.Target]bool) {
	for _, t := range targets {
		if !keep[t] {
			c.hosts.Release(t.Addr, t.Check)
			c.hosts.ReleaseEndpoint(t.Endpoint.Key)
		}
	}
}

// reindex rebuilds the host index from every service. When two services
// claim the same host+path (possible only if the registry was written
// around webrouter's checks) the one whose name sorts first wins and the
// clash is reported in the table's problems.
func (c *Compiler) reindex() {
	names := make([]string, 0, len(c.byName))
	for n := range c.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	owner := map[string]string{}
	var routes []route.Route
	var problems []string
	for _, n := range names {
		cs := c.byName[n]
		for _, m := range cs.entry.Service.MountpointsParsed() {
			if !m.HTTP() {
				continue // passthrough and TCP: see streams.go
			}
			key := m.String()
			if o, taken := owner[key]; taken {
				problems = append(problems, fmt.Sprintf("mountpoint %q is claimed by services %q and %q; %q serves it", key, o, n, o))
				continue
			}
			owner[key] = n
			host := m.Host
			if m.Wildcard {
				host = "*." + host
			}
			routes = append(routes, route.Route{Host: host, Path: m.Path, Slot: cs.slot})
		}
	}
	c.index = route.NewIndex(routes)
	c.problems = problems
}
