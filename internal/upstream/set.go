package upstream

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// Set holds one Host per address and one Endpoint per service instance,
// each reference-counted by the targets that use it. It is safe for
// concurrent use.
type Set struct {
	base         time.Time
	drainTimeout time.Duration
	mu           sync.Mutex
	hosts        map[string]*Host
	endpoints    map[string]*Endpoint
	watcher      CheckWatcher
}

// Option configures a Set.
type Option func(*Set)

// WithDrainTimeout sets how long a draining or removed instance's requests
// may continue before they are cut off (default 30s).
func WithDrainTimeout(d time.Duration) Option { return func(s *Set) { s.drainTimeout = d } }

// WithCheckWatcher sets who is told when an address's probe changes.
func WithCheckWatcher(w CheckWatcher) Option { return func(s *Set) { s.watcher = w } }

// NewSet returns an empty set.
func NewSet(opts ...Option) *Set {
	s := &Set{base: time.Now(), drainTimeout: 30 * time.Second, hosts: map[string]*Host{}, endpoints: map[string]*Endpoint{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Acquire returns the Host for addr, creating it on first use, and counts
// one more reference to it. check is the probe the referring service wants
// for the address, or nil.
func (s *Set) Acquire(addr string, check *Check) *Host {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.hosts[addr]
	fresh := h == nil
	if fresh {
		h = &Host{Addr: addr, base: s.base, checks: map[Check]int{}}
		s.hosts[addr] = h
	}
	h.refs++
	if check != nil {
		h.checks[*check]++
	}
	s.recheck(h, fresh)
	return h
}

// Release drops one reference to addr's Host, made with the same check;
// the Host is forgotten when the last reference goes (tables still holding
// it keep working).
func (s *Set) Release(addr string, check *Check) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.hosts[addr]
	if h == nil {
		return
	}
	if check != nil {
		if h.checks[*check]--; h.checks[*check] <= 0 {
			delete(h.checks, *check)
		}
	}
	if h.refs--; h.refs <= 0 {
		delete(s.hosts, addr)
		h.checks = map[Check]int{}
	}
	s.recheck(h, false)
}

// recheck tells the watcher when the address's effective probe changed:
// the smallest (by its text) of the probes its services want, so that the
// choice does not depend on the order of writes. s.mu must be held.
func (s *Set) recheck(h *Host, fresh bool) {
	var eff *Check
	for c := range h.checks {
		if eff == nil || c.String()+c.Host < eff.String()+eff.Host {
			c := c
			eff = &c
		}
	}
	if (eff == nil) == (h.check == nil) && (eff == nil || *eff == *h.check) {
		return
	}
	h.check = eff
	if s.watcher != nil {
		s.watcher.CheckChanged(h, eff, fresh)
	}
}

// AcquireEndpoint returns the Endpoint for key ("service/id"), creating it
// on first use, and counts one more reference to it.
func (s *Set) AcquireEndpoint(key string) *Endpoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.endpoints[key]
	if e == nil {
		e = newEndpoint(key)
		s.endpoints[key] = e
	}
	e.refs++
	return e
}

// ReleaseEndpoint drops one reference; at the last one the instance is
// gone from the registry, so it drains: what is in flight may finish
// within the drain timeout.
func (s *Set) ReleaseEndpoint(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.endpoints[key]
	if e == nil {
		return
	}
	if e.refs--; e.refs <= 0 {
		delete(s.endpoints, key)
		e.drain(s.drainTimeout)
	}
}

// Drain starts e's drain deadline (the instance stopped being ready);
// Undrain stops it (ready again).
func (s *Set) Drain(e *Endpoint)   { e.drain(s.drainTimeout) }
func (s *Set) Undrain(e *Endpoint) { e.undrain() }

// Endpoint returns the Endpoint for key, if any target uses it.
func (s *Set) Endpoint(key string) (*Endpoint, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.endpoints[key]
	return e, ok
}

// Get returns the Host for addr, if any target uses it.
func (s *Set) Get(addr string) (*Host, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.hosts[addr]
	return h, ok
}

// Hosts returns every Host, sorted by address.
func (s *Set) Hosts() []*Host {
	s.mu.Lock()
	out := make([]*Host, 0, len(s.hosts))
	for _, h := range s.hosts {
		out = append(out, h)
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b *Host) int { return strings.Compare(a.Addr, b.Addr) })
	return out
}

// Len returns the number of addresses in use.
func (s *Set) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.hosts)
}
