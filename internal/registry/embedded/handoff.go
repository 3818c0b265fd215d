package embedded

import (
	"fmt"

	"github.com/webrouter/webrouter/internal/registry"
)

var _ registry.Handoff = (*Store)(nil)

// Suspend closes the database file so that a new webrouter process (a
// binary upgrade) can open it, while this process keeps routing from its
// State. Writes fail with registry.ErrUnavailable until Resume.
func (s *Store) Suspend() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return nil
	}
	err := s.db.Close()
	s.db, s.suspended = nil, true
	if err != nil {
		return fmt.Errorf("hand over registry data dir %q: %w", s.dir, err)
	}
	return nil
}

// Resume reopens the file after a hand-off that did not happen (the new
// process failed) and reloads it, in case the new process wrote to it
// before failing.
func (s *Store) Resume() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.suspended {
		return nil
	}
	db, l, err := openDB(s.dir, s.opts)
	if err != nil {
		return fmt.Errorf("take back registry data dir %q: %w", s.dir, err)
	}
	s.db, s.suspended = db, false
	s.state.Replace(l.rev, l.entries)
	s.state.ReplaceCertificates(l.rev, l.certs)
	for _, e := range l.entries {
		for _, in := range e.Instances {
			s.track(e.Service.Name, in)
		}
	}
	return nil
}
