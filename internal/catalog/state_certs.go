package catalog

import (
	"slices"
	"strings"
)

// Certificates live in a State beside the services and reach consumers
// through the same Feed (Batch.Certificates), coalesced per name. Like
// services, State never refuses a well-formed change: the writer
// validates (NewCertificate) and persists first.

// Certificate returns the named certificate.
func (s *State) Certificate(name string) (*Certificate, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.certs[name]
	return c, ok
}

// Certificates returns every certificate, sorted by name.
func (s *State) Certificates() []*Certificate {
	s.mu.RLock()
	out := make([]*Certificate, 0, len(s.certs))
	for _, c := range s.certs {
		out = append(out, c)
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b *Certificate) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// PutCertificate creates or replaces a certificate; it reports whether the
// certificate is new.
func (s *State) PutCertificate(rev uint64, c *Certificate) (created bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, had := s.certs[c.Name]
	s.setCert(c.Name, c)
	s.advance(rev)
	return !had
}

// DeleteCertificate removes a certificate; it reports whether it existed.
func (s *State) DeleteCertificate(rev uint64, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, had := s.certs[name]
	if had {
		s.setCert(name, nil)
	}
	s.advance(rev)
	return had
}

// SetCertificate makes c the certificate called name (nil removes it) and
// moves the revision to rev, publishing only if it differs from the one
// held. It is for backends that mirror a store key by key (etcd).
func (s *State) SetCertificate(rev uint64, name string, c *Certificate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.certs[name]
	switch {
	case c == nil && old == nil:
	case c != nil && old != nil && old.Equal(c):
	default:
		s.setCert(name, c)
	}
	s.advance(rev)
}

// ReplaceCertificates makes the certificates equal to certs (a full
// listing) and publishes only what differs. Services are left alone: a
// full listing calls Replace for them.
func (s *State) ReplaceCertificates(rev uint64, certs []*Certificate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := make(map[string]*Certificate, len(certs))
	for _, c := range certs {
		next[c.Name] = c
	}
	for name, old := range s.certs {
		if c, ok := next[name]; !ok {
			s.setCert(name, nil)
		} else if old.Equal(c) {
			delete(next, name)
		}
	}
	for name, c := range next {
		s.setCert(name, c)
	}
	s.advance(rev)
}

// setCert installs (or, for nil, removes) a certificate and publishes the
// change. s.mu must be held.
func (s *State) setCert(name string, c *Certificate) {
	if c == nil {
		delete(s.certs, name)
	} else {
		s.certs[name] = c
	}
	for _, f := range s.feeds {
		f.changeCert(name, c)
	}
}
