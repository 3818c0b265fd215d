package embedded

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/webrouter/webrouter/internal/catalog"
)

// DefaultLeaseCheck is how often expired leases are looked for.
const DefaultLeaseCheck = 250 * time.Millisecond

// leaseTable holds the deadlines of instances registered with a TTL. They
// live in memory only: after a restart every leased instance gets a full
// TTL again, so a router that was down does not expire instances whose
// owners could not reach it. The map is guarded by Store.mu.
type leaseTable struct {
	deadlines map[string]map[string]time.Time // service → instance id → deadline
	log       *slog.Logger
	stop      chan struct{}
	stopOnce  sync.Once
	done      chan struct{}
}

// startLeases gives every loaded leased instance a full TTL from now and
// starts the expiry loop. Called from Open.
func (s *Store) startLeases(entries []*catalog.Entry, every time.Duration, log *slog.Logger) {
	if every <= 0 {
		every = DefaultLeaseCheck
	}
	s.leases = leaseTable{deadlines: map[string]map[string]time.Time{}, log: log,
		stop: make(chan struct{}), done: make(chan struct{})}
	for _, e := range entries {
		for _, in := range e.Instances {
			s.track(e.Service.Name, in)
		}
	}
	go s.expireLoop(every)
}

// Heartbeat renews the lease of an instance registered with a TTL: it is
// removed TTL from now unless renewed again. An instance without a TTL
// needs no renewal; the call only checks it exists. The error wraps
// catalog.ErrNotFound if the instance is gone (expired or deleted).
func (s *Store) Heartbeat(ctx context.Context, service, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(ctx); err != nil {
		return err
	}
	in, err := s.instanceLocked(service, id)
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	s.track(service, in)
	return nil
}

// stopLeases ends the expiry loop and waits for it. Called from Close
// before it takes s.mu.
func (s *Store) stopLeases() {
	s.leases.stopOnce.Do(func() { close(s.leases.stop) })
	<-s.leases.done
}

// track sets the deadline of an instance just written: now + TTL, or none
// when it has no TTL. s.mu must be held (or the Store not yet shared).
func (s *Store) track(service string, in catalog.Instance) {
	if in.TTL == 0 {
		s.untrack(service, in.ID)
		return
	}
	ids := s.leases.deadlines[service]
	if ids == nil {
		ids = map[string]time.Time{}
		s.leases.deadlines[service] = ids
	}
	ids[in.ID] = time.Now().Add(time.Duration(in.TTL))
}

// untrack forgets an instance's deadline. s.mu must be held.
func (s *Store) untrack(service, id string) {
	if ids := s.leases.deadlines[service]; ids != nil {
		delete(ids, id)
		if len(ids) == 0 {
			delete(s.leases.deadlines, service)
		}
	}
}

// untrackService forgets the deadlines of a service's instances. s.mu must
// be held.
func (s *Store) untrackService(service string) { delete(s.leases.deadlines, service) }

func (s *Store) expireLoop(every time.Duration) {
	defer close(s.leases.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.leases.stop:
			return
		case now := <-t.C:
			s.expire(now)
		}
	}
}

// expire deletes every instance whose deadline has passed, each through
// the normal write path (a committed transaction, then the State).
func (s *Store) expire(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return
	}
	for service, ids := range s.leases.deadlines {
		for id, deadline := range ids {
			if now.Before(deadline) {
				continue
			}
			rev, err := s.deleteInstanceLocked(service, id)
			if err != nil {
				s.leases.log.Warn("embedded registry: could not remove an instance whose lease expired; retrying",
					"service", service, "instance", id, "err", err)
				continue
			}
			s.leases.log.Info("instance lease expired; removed", "service", service, "instance", id, "revision", rev)
		}
	}
}
