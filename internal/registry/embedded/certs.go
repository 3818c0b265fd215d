package embedded

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/webrouter/webrouter/internal/catalog"
)

// PutCertificate creates or replaces a certificate (chain and key) in the
// certificates bucket.
func (s *Store) PutCertificate(ctx context.Context, c *catalog.Certificate) (created bool, rev uint64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(ctx); err != nil {
		return false, 0, err
	}
	data, err := json.Marshal(c)
	if err != nil {
		return false, 0, fmt.Errorf("put certificate %q: encode: %w", c.Name, err)
	}
	rev, err = s.commit(func(b buckets) error { return putValue(b.certs, []byte(c.Name), data) })
	if err != nil {
		return false, 0, fmt.Errorf("put certificate %q: %w", c.Name, err)
	}
	return s.state.PutCertificate(rev, c), rev, nil
}

// DeleteCertificate removes a certificate. The error wraps
// catalog.ErrNotFound if there is none by that name.
func (s *Store) DeleteCertificate(ctx context.Context, name string) (rev uint64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(ctx); err != nil {
		return 0, err
	}
	if _, ok := s.state.Certificate(name); !ok {
		return 0, fmt.Errorf("delete certificate %q: %w", name, catalog.ErrNotFound)
	}
	rev, err = s.commit(func(b buckets) error { return clearKey(b.certs, []byte(name)) })
	if err != nil {
		return 0, fmt.Errorf("delete certificate %q: %w", name, err)
	}
	s.state.DeleteCertificate(rev, name)
	return rev, nil
}
