// Package health runs active health checks: one checker goroutine per
// backend address, shared by every service that points at it.
//
// The Manager is an upstream.CheckWatcher: the upstream.Set tells it when an
// address needs a probe, needs a different one, or none any more, and it
// starts, replaces or stops that address's checker. A checker probes every
// interval (HTTP GET or TCP connect, with a timeout) and sets the address's
// active verdict: down after `fall` consecutive failures, up after `rise`
// consecutive successes. An address that is new once the router is running
// starts "pending" — taken out until it first rises — so a starting
// container never gets requests early; addresses loaded at start-up start up
// (they were serving before the restart) and are checked at once. Each
// transition is logged once and reported to OnTransition.
package health

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/webrouter/webrouter/internal/upstream"
)

// Options configure a Manager.
type Options struct {
	Log          *slog.Logger                          // nil: discard
	OnTransition func(addr string, up bool)            // nil: none; must not block
	Jitter       func(max time.Duration) time.Duration // spreads first probes; nil: none
}

// Manager owns every checker.
type Manager struct {
	opts    Options
	log     *slog.Logger
	client  *http.Client
	dialer  *net.Dialer
	started atomic.Bool

	mu       sync.Mutex
	checkers map[*upstream.Host]context.CancelFunc
	wg       sync.WaitGroup
	closed   bool
}

// New returns a Manager with no checkers.
func New(o Options) *Manager {
	m := &Manager{opts: o, log: o.Log, checkers: map[*upstream.Host]context.CancelFunc{}, dialer: &net.Dialer{}}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	m.client = &http.Client{
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true, DialContext: m.dialer.DialContext,
			MaxResponseHeaderBytes: 64 << 10},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return m
}

// Start marks the end of start-up: addresses that appear from now on start
// pending.
func (m *Manager) Start() { m.started.Store(true) }

// Running returns the number of addresses being checked.
func (m *Manager) Running() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.checkers)
}

// CheckChanged implements upstream.CheckWatcher.
func (m *Manager) CheckChanged(h *upstream.Host, check *upstream.Check, fresh bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if stop := m.checkers[h]; stop != nil {
		stop()
		delete(m.checkers, h)
	}
	if check == nil || m.closed {
		h.SetActiveDown(false) // no probe, no verdict
		return
	}
	pending := fresh && m.started.Load()
	if pending {
		h.SetPending()
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.checkers[h] = cancel
	m.wg.Add(1)
	go m.run(ctx, h, *check, pending)
}

// Close stops every checker and waits for them.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	for h, stop := range m.checkers {
		stop()
		delete(m.checkers, h)
	}
	m.mu.Unlock()
	m.wg.Wait()
}

// run probes h until ctx ends. A pending address is probed at once; others
// after a jittered delay so that a thousand checkers started together do
// not probe together.
func (m *Manager) run(ctx context.Context, h *upstream.Host, c upstream.Check, pending bool) {
	defer m.wg.Done()
	p, err := newProber(m, c)
	if err != nil { // catalog validation makes this unreachable
		m.log.Error("health check not started", "address", h.Addr, "error", err.Error())
		return
	}
	var delay time.Duration
	if !pending && m.opts.Jitter != nil {
		delay = m.opts.Jitter(c.Interval)
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	ok, bad := 0, 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := p.probe(ctx, h.Addr)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			ok, bad = ok+1, 0
			if h.ActiveDown() && ok >= c.Rise {
				h.SetActiveDown(false)
				m.log.Info("backend up", "address", h.Addr, "check", c.String(), "after", ok)
				m.transition(h.Addr, true)
			}
		} else {
			ok, bad = 0, bad+1
			if (!h.ActiveDown() || h.Pending()) && bad >= c.Fall {
				h.SetActiveDown(true)
				m.log.Warn("backend down", "address", h.Addr, "check", c.String(), "after", bad, "error", err.Error())
				m.transition(h.Addr, false)
			}
		}
		t.Reset(c.Interval)
	}
}

func (m *Manager) transition(addr string, up bool) {
	if m.opts.OnTransition != nil {
		m.opts.OnTransition(addr, up)
	}
}
