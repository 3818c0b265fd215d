package catalog

// Set makes e the entry of service name (nil removes it) and moves the
// revision to rev. It publishes a change only if the entry differs from the
// one held. It is for backends that rebuild a service's whole entry from
// their own mirror of a store (etcd), where a change may arrive for an
// instance whose service appears only later; e.Service.Name must be name.
func (s *State) Set(rev uint64, name string, e *Entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.entries[name]
	switch {
	case e == nil && old == nil:
	case e != nil && old != nil && equalEntry(old, e):
	default:
		s.set(name, e)
	}
	s.advance(rev)
}

// Advance moves the revision to rev (never back) without changing an
// entry, e.g. for a store write that touched no service.
func (s *State) Advance(rev uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(rev)
}
