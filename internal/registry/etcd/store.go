package etcd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/registry"
)

// Store is the etcd registry. It implements registry.Store and is safe for
// concurrent use.
type Store struct {
	opts  Options
	log   *slog.Logger
	keys  keys
	state *catalog.State
	cfg   clientv3.Config

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	cli    atomic.Pointer[clientv3.Client] // nil until connected

	mu       sync.Mutex // guards mir, applied, listed and the fields below
	mir      *mirror
	applied  int64         // the etcd revision the State holds
	advanced chan struct{} // closed and replaced when applied moves
	listed   bool          // a full listing has been applied since Open
	kickW    func()        // cancels the current watch; nil when none
	kicked   bool          // the watch was ended by restartWatch

	health       sync.Mutex
	probeErr     error     // last reachability check; nil = reachable
	failingSince time.Time // when checks started failing
	degraded     bool      // as last reported
	snapNote     string    // what the State was loaded from at start
	syncErr      string    // the last failure to connect, list or watch; "" after a success
}

var _ registry.Store = (*Store)(nil)

// Open connects to etcd and mirrors the prefix into a new State. It waits
// up to Options.StartTimeout for a full listing; if etcd does not answer
// in time it loads the snapshot from Options.DataDir (if there is one),
// reports "degraded" and keeps trying in the background. It fails only on
// bad options (TLS files, endpoints).
func Open(opts Options) (*Store, error) {
	opts.defaults()
	if len(opts.Endpoints) == 0 {
		return nil, errors.New("etcd registry: no endpoints; give them as etcd://host:port[,host:port…]/prefix")
	}
	tlsCfg, err := opts.tlsConfig()
	if err != nil {
		return nil, fmt.Errorf("etcd registry: %w", err)
	}
	s := &Store{opts: opts, log: opts.Logger, keys: keys{prefix: opts.Prefix}, state: catalog.NewState(),
		advanced: make(chan struct{}), probeErr: errors.New("not yet connected"), failingSince: time.Now()}
	s.mir = newMirror(s.keys, s.log, opts.OnBadEntry)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	// DialTimeout 0: the client dials in the background, so a router can
	// start while etcd is down. Every call below carries its own timeout.
	s.cfg = clientv3.Config{
		Endpoints: opts.Endpoints, TLS: tlsCfg, Username: opts.User, Password: opts.Password,
		Context: s.ctx, Logger: zap.NewNop(),
		DialKeepAliveTime: 10 * time.Second, DialKeepAliveTimeout: 3 * time.Second,
	}
	s.wg.Add(1)
	go s.run()

	wait, cancel := context.WithTimeout(s.ctx, opts.StartTimeout)
	defer cancel()
	if err := s.waitListed(wait); err != nil {
		s.loadSnapshot()
	}
	s.wg.Add(2)
	go s.probe()
	go s.writeSnapshots()
	s.log.Info("etcd registry opened", "endpoints", strings.Join(opts.Endpoints, ","), "prefix", opts.Prefix,
		"revision", s.state.Rev(), "services", s.state.Len(), "state", s.Status().State)
	return s, nil
}

// Kind returns "etcd".
func (s *Store) Kind() string { return "etcd" }

// State returns the mirrored state. It stays readable after Close.
func (s *Store) State() *catalog.State { return s.state }

// Close stops the watch, the prober and the snapshot writer (which writes
// a last snapshot if one is due) and closes the client. Writes after Close
// fail with registry.ErrUnavailable.
func (s *Store) Close() error {
	s.cancel()
	s.wg.Wait()
	if cli := s.cli.Load(); cli != nil {
		return cli.Close()
	}
	return nil
}

// Status is "degraded" before the State has been listed from etcd, and
// while reachability checks have failed for DegradeAfter; otherwise "ok".
// While degraded the router keeps routing on its last table and writes
// are refused.
func (s *Store) Status() registry.Status {
	s.mu.Lock()
	listed := s.listed
	s.mu.Unlock()
	s.health.Lock()
	defer s.health.Unlock()
	eps := strings.Join(s.opts.Endpoints, ",")
	switch {
	case s.ctx.Err() != nil:
		return registry.Status{State: "degraded", Reason: "the etcd registry is closed"}
	case !listed:
		why := "answers; listing the registry"
		switch {
		case s.probeErr != nil && s.cli.Load() != nil:
			why = "unreachable: " + s.probeErr.Error()
		case s.syncErr != "": // e.g. refused our credentials
			why = "cannot be used: " + s.syncErr
		case s.probeErr != nil:
			why = "unreachable: " + s.probeErr.Error()
		}
		return registry.Status{State: "degraded", Reason: strings.TrimSuffix(fmt.Sprintf("etcd at %s %s; %s", eps, why, s.snapNote), "; ")}
	case s.probeErr != nil && time.Since(s.failingSince) >= s.opts.DegradeAfter:
		return registry.Status{State: "degraded", Reason: fmt.Sprintf("etcd unreachable at %s since %s: %v; routing on the last table (revision %d)",
			eps, s.failingSince.UTC().Format(time.RFC3339), s.probeErr, s.state.Rev())}
	}
	return registry.Status{State: "ok"}
}

// probe checks reachability every ProbeInterval with a linearizable read
// (which needs a quorum), logs each change of Status once, and restarts
// the watch when etcd comes back so that nothing waits on a dead stream.
func (s *Store) probe() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.ProbeInterval)
	defer t.Stop()
	for {
		var err error
		if cli := s.cli.Load(); cli == nil {
			err = errors.New("not yet connected")
		} else {
			ctx, cancel := context.WithTimeout(s.ctx, s.opts.ProbeTimeout)
			_, err = cli.Get(ctx, s.keys.health())
			cancel()
		}
		if s.ctx.Err() != nil {
			return
		}
		s.setProbe(err)
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// setProbe records a reachability check and reports a change of Status.
func (s *Store) setProbe(err error) {
	s.health.Lock()
	was := s.probeErr == nil
	s.probeErr = err
	if err != nil && was {
		s.failingSince = time.Now()
	}
	s.health.Unlock()
	if err == nil && !was {
		s.restartWatch()
	}
	s.report()
}

// report logs and signals a change of Status, once per change.
func (s *Store) report() {
	st := s.Status()
	degraded := st.State != "ok"
	s.health.Lock()
	changed := degraded != s.degraded
	s.degraded = degraded
	s.health.Unlock()
	if !changed {
		return
	}
	if degraded {
		s.log.Warn("etcd registry degraded: routing on the last table, refusing writes", "reason", st.Reason)
	} else {
		s.log.Info("etcd registry ok: reachable and in sync", "revision", s.state.Rev())
	}
	if s.opts.OnDegraded != nil {
		s.opts.OnDegraded(degraded)
	}
}

// writable returns the client for a write, or an error wrapping
// registry.ErrUnavailable when the store is degraded.
func (s *Store) writable(ctx context.Context, op string) (*clientv3.Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if st := s.Status(); st.State != "ok" {
		return nil, fmt.Errorf("%s: etcd registry degraded (%s): %w", op, st.Reason, registry.ErrUnavailable)
	}
	cli := s.cli.Load()
	if cli == nil {
		return nil, fmt.Errorf("%s: not connected to etcd: %w", op, registry.ErrUnavailable)
	}
	return cli, nil
}

// failed wraps an error from etcd: the caller's own cancellation as it
// is, anything else as registry.ErrUnavailable naming the endpoints.
func (s *Store) failed(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ctx.Err()
	}
	return fmt.Errorf("%s: etcd at %s: %v: %w", op, strings.Join(s.opts.Endpoints, ","), err, registry.ErrUnavailable)
}

// settle waits until the watch has applied revision rev to the State, so
// that a write is visible in State() when it returns. If the watch does
// not deliver within the write timeout the write still stands (it is in
// etcd); the wait is logged.
func (s *Store) settle(ctx context.Context, rev int64) uint64 {
	ctx, cancel := context.WithTimeout(ctx, s.opts.WriteTimeout)
	defer cancel()
	if err := s.waitApplied(ctx, rev); err != nil {
		s.log.Warn("etcd registry: a write is stored but not yet mirrored", "revision", rev, "err", err)
	}
	return uint64(rev)
}

// waitApplied blocks until the State holds revision rev or ctx ends.
func (s *Store) waitApplied(ctx context.Context, rev int64) error {
	return s.waitFor(ctx, func() bool { return s.applied >= rev })
}

// waitListed blocks until a full listing has been applied or ctx ends.
func (s *Store) waitListed(ctx context.Context) error {
	return s.waitFor(ctx, func() bool { return s.listed })
}

// waitFor blocks until done, called with s.mu held, reports true after an
// advance, or ctx ends.
func (s *Store) waitFor(ctx context.Context, done func() bool) error {
	for {
		s.mu.Lock()
		ok, ch := done(), s.advanced
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// advance records that the State holds rev. s.mu must be held.
func (s *Store) advance(rev int64) {
	if rev > s.applied {
		s.applied = rev
	}
	close(s.advanced)
	s.advanced = make(chan struct{})
}
