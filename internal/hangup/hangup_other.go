//go:build !linux

package hangup

import (
	"errors"
	"fmt"
)

// Set is not made outside Linux (see New).
type Set struct{}

// New fails: the package needs Linux's epoll.
func New() (*Set, error) {
	return nil, fmt.Errorf("hangup: %w", errors.ErrUnsupported)
}

// Add fails (New never returns a Set here).
func (s *Set) Add(fd uintptr, key uint64) error { return errors.ErrUnsupported }

// Poll finds nothing.
func (s *Set) Poll(found func(key uint64)) error { return nil }

// Close does nothing.
func (s *Set) Close() error { return nil }
