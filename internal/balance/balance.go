// Package balance chooses which instance of a service takes a request.
//
// A policy is compiled once per service per table generation from that
// service's targets (New) and then called concurrently by every request
// goroutine (Picker.Pick). Adding a policy means adding one file with a
// constructor and one case in New.
package balance

import (
	"fmt"
	"time"

	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/upstream"
)

// Picker chooses a target for one request.
//
// Pick must be safe for concurrent use, must not allocate and must not
// block: it runs on every request. It returns a target that is Usable at
// now and not in tried, or nil if there is none. key identifies the client
// (its IP address) for policies that keep a client on one instance.
type Picker interface {
	Pick(now time.Time, key string, tried *Tried) *upstream.Target
}

// New compiles the named policy over targets. The slice must not be
// modified afterwards. An unknown policy is an error.
func New(policy string, targets []*upstream.Target) (Picker, error) {
	switch policy {
	case catalog.RoundRobin, "":
		return newRoundRobin(targets), nil
	case catalog.LeastConn:
		return newLeastConn(targets), nil
	case catalog.IPHash:
		return newIPHash(targets), nil
	}
	return nil, fmt.Errorf("unknown balancing policy %q", policy)
}

// MaxTries is how many distinct targets one request may try.
const MaxTries = 4

// Tried is the set of targets one request has already tried. The zero
// value is empty. It lives on the request's stack or in its state.
type Tried struct {
	n int
	t [MaxTries]*upstream.Target
}

// Add records t. Once MaxTries targets are recorded, further ones are not.
func (s *Tried) Add(t *upstream.Target) {
	if s.n < MaxTries {
		s.t[s.n] = t
		s.n++
	}
}

// Has reports whether t was recorded.
func (s *Tried) Has(t *upstream.Target) bool {
	if s == nil {
		return false
	}
	for i := 0; i < s.n; i++ {
		if s.t[i] == t {
			return true
		}
	}
	return false
}

// Len returns how many targets are recorded.
func (s *Tried) Len() int { return s.n }
