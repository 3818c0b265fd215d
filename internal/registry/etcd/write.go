package etcd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// errChanged is returned by an attempt whose transaction did not commit
// because a key it read changed meanwhile: plan it again.
var errChanged = errors.New("the keys changed under a concurrent write")

// etcdError marks an error that came from etcd (as opposed to a verdict
// such as not found or a conflict).
type etcdError struct{ err error }

func (e *etcdError) Error() string { return e.err.Error() }
func (e *etcdError) Unwrap() error { return e.err }

func fromEtcd(err error) error { return &etcdError{err} }

// tries is what the attempts of one write know about the earlier ones.
type tries struct {
	// ambiguous: an earlier attempt's commit failed in a way that leaves
	// open whether etcd applied it (a timeout while a leader was lost).
	ambiguous bool
}

// do runs attempt until it succeeds or fails for good. Each attempt gets
// Options.AttemptTimeout; an attempt that fails with a transient etcd
// error (no leader, a member gone, a timeout) or errChanged is retried
// while Options.WriteTimeout lasts. Attempts must therefore be safe to
// repeat: conditional on what they read, or idempotent. When etcd stays
// unavailable the error wraps registry.ErrUnavailable.
func (s *Store) do(ctx context.Context, op string, attempt func(ctx context.Context, t *tries) error) error {
	wctx, cancel := context.WithTimeout(ctx, s.opts.WriteTimeout)
	defer cancel()
	var t tries
	var last error
	pause := 20 * time.Millisecond
	for n := 0; ; n++ {
		actx, acancel := context.WithTimeout(wctx, s.opts.AttemptTimeout)
		err := attempt(actx, &t)
		acancel()
		var ee *etcdError
		switch {
		case err == nil:
			return nil
		case errors.Is(err, errChanged):
			last = err
			if n+1 >= maxAttempts {
				return s.failed(ctx, op, fmt.Errorf("gave up after %d attempts: %w; retry", maxAttempts, err))
			}
			continue
		case !errors.As(err, &ee):
			return err
		case ctx.Err() != nil:
			return ctx.Err()
		case !transient(ee.err):
			return fmt.Errorf("%s: etcd refused: %w", op, ee.err)
		}
		last = ee.err
		select {
		case <-wctx.Done():
			return s.failed(ctx, op, last)
		case <-time.After(pause):
		}
		pause = min(2*pause, 500*time.Millisecond)
	}
}

// transient reports whether an etcd error may go away by itself: no
// leader, a member gone, a timeout.
func transient(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	for _, e := range []error{
		rpctypes.ErrNoLeader, rpctypes.ErrNotLeader, rpctypes.ErrLeaderChanged, rpctypes.ErrNotCapable,
		rpctypes.ErrStopped, rpctypes.ErrTimeout, rpctypes.ErrTimeoutDueToLeaderFail,
		rpctypes.ErrTimeoutDueToConnectionLost, rpctypes.ErrTimeoutWaitAppliedIndex, rpctypes.ErrUnhealthy,
		rpctypes.ErrTooManyRequests,
	} {
		if errors.Is(err, e) {
			return true
		}
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Aborted:
		return true
	}
	return false
}
