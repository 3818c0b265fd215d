package upstream

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// Set holds one Host per address, reference-counted by the targets that
// use it. It is safe for concurrent use.
type Set struct {
	base  time.Time
	mu    sync.Mutex
	hosts map[string]*Host
}

// NewSet returns an empty set.
func NewSet() *Set {
	return &Set{base: time.Now(), hosts: map[string]*Host{}}
}

// Acquire returns the Host for addr, creating it on first use, and counts
// one more reference to it.
func (s *Set) Acquire(addr string) *Host {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.hosts[addr]
	if h == nil {
		h = &Host{Addr: addr, base: s.base}
		s.hosts[addr] = h
	}
	h.refs++
	return h
}

// Release drops one reference to addr's Host; the Host is forgotten when
// the last reference goes (tables still holding it keep working).
func (s *Set) Release(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.hosts[addr]
	if h == nil {
		return
	}
	if h.refs--; h.refs <= 0 {
		delete(s.hosts, addr)
	}
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
