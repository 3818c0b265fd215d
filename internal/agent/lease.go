package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/webrouter/webrouter/internal/catalog"
)

// startRemoval drains and deletes an instance in its own goroutine and
// reports the outcome on a.removed; the instance is marked Removing until
// then, so that no plan touches it meanwhile.
func (a *Agent) startRemoval(ctx context.Context, k Key) {
	a.mu.Lock()
	cur := a.known[k]
	if cur == nil || cur.Removing {
		a.mu.Unlock()
		return
	}
	cur.Removing = true
	a.mu.Unlock()
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		err := a.remove(ctx, k)
		select {
		case a.removed <- removal{key: k, container: containerOf(k.ID, a.cfg.HostID), err: err}:
		case <-ctx.Done():
		}
	}()
}

// remove sets the instance draining, waits until the router reports
// nothing in flight on it (at most DrainWait; not at all when the registry
// cannot tell), then deletes it. An instance already gone counts as
// removed.
func (a *Agent) remove(ctx context.Context, k Key) error {
	err := a.reg.SetState(ctx, k.Service, k.ID, catalog.Draining)
	if errors.Is(err, catalog.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("drain %s/%s: %w", k.Service, k.ID, err)
	}
	deadline := time.Now().Add(a.cfg.DrainWait)
	for {
		n, known, err := a.reg.InFlight(ctx, k.Service, k.ID)
		if err != nil || !known || n == 0 || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	err = a.reg.DeleteInstance(ctx, k.Service, k.ID)
	if err != nil && !errors.Is(err, catalog.ErrNotFound) {
		return fmt.Errorf("delete %s/%s: %w", k.Service, k.ID, err)
	}
	a.log.Info("removed", "service", k.Service, "id", k.ID)
	return nil
}

// removalDone forgets a removed instance, or makes a failed removal
// eligible again (and logs it).
func (a *Agent) removalDone(r removal) {
	a.mu.Lock()
	if cur := a.known[r.key]; cur != nil {
		if r.err == nil {
			delete(a.known, r.key)
		} else {
			cur.Removing = false
		}
	}
	a.mu.Unlock()
	subject := "instance " + r.key.Service + "/" + r.key.ID
	if r.err != nil {
		a.note(subject, r.err)
	} else {
		a.clear(subject)
	}
}

// heartbeats renews the lease of every instance the agent holds every
// TTL/3, until ctx ends. An instance found gone (its lease expired, or
// someone deleted it) is reported on a.gone.
func (a *Agent) heartbeats(ctx context.Context) {
	defer a.wg.Done()
	t := time.NewTicker(a.cfg.TTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		a.mu.Lock()
		keys := make([]Key, 0, len(a.known))
		for k := range a.known {
			keys = append(keys, k)
		}
		a.mu.Unlock()
		var failed error
		for _, k := range keys {
			err := a.reg.Heartbeat(ctx, k.Service, k.ID)
			switch {
			case err == nil:
			case errors.Is(err, catalog.ErrNotFound):
				select {
				case a.gone <- k:
				case <-ctx.Done():
					return
				}
			case ctx.Err() != nil:
				return
			default:
				failed = err
			}
		}
		if failed != nil {
			a.note("heartbeat", fmt.Errorf("renew the leases: %w", failed))
		} else {
			a.clear("heartbeat")
		}
	}
}

// reregister handles an instance whose lease ran out: it is forgotten and
// its container synced again, which registers it anew if it is still
// wanted and ready.
func (a *Agent) reregister(ctx context.Context, k Key) error {
	a.mu.Lock()
	cur := a.known[k]
	if cur == nil || cur.Removing {
		a.mu.Unlock()
		return nil
	}
	delete(a.known, k)
	a.mu.Unlock()
	a.log.Warn("instance gone from the registry (lease expired?); registering it again", "service", k.Service, "id", k.ID)
	short := containerOf(k.ID, a.cfg.HostID)
	if short == "" {
		return nil
	}
	return a.sync(ctx, short, "")
}
