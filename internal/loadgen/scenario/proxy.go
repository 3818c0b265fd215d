// Package scenario runs the churn scenarios of issue 3 against a proxy
// under load and reports what the clients saw. The same scenario code
// drives webrouter (through its admin API) and nginx (through a rendered
// config and `nginx -s reload`, the seeds' stack): a Proxy turns the
// scenario's desired state into the proxy's own configuration.
//
// Backends are separate demoapp processes (see cmd/demoapp), so a SIGKILL
// is a real one; the load comes from internal/loadgen and never retries.
package scenario

import (
	"context"
	"fmt"
	"time"
)

// Service is the desired state of one service, as a scenario writes it.
type Service struct {
	Hosts          []string      // host-only mountpoints, e.g. "churn.bench"
	Healthcheck    string        // "/healthz" for active health checks, "" for none
	HealthInterval time.Duration // between probes; 0 = the proxy's default
}

// Instance is one backend of a service; its address is 127.0.0.1.
type Instance struct {
	Port   int
	Weight int // 1–1000
}

// Proxy is a router under test, driven by desired state. Its methods are
// called from one goroutine at a time. Each change is applied the way the
// proxy's own stack applies it (webrouter: an admin API call; nginx: a
// rendered file and `nginx -s reload`); Sync waits until the changes made
// so far are served.
type Proxy interface {
	// Name is "webrouter" or "nginx".
	Name() string
	// Addr is the HTTP entry point, "127.0.0.1:port".
	Addr() string

	PutService(ctx context.Context, name string, s Service) error
	DeleteService(ctx context.Context, name string) error
	// PutInstance adds or replaces an instance; it may get traffic before
	// it is healthy if the proxy has no health checks.
	PutInstance(ctx context.Context, service, id string, in Instance) error
	// DeleteInstance removes an instance at once; requests under way on it
	// may continue.
	DeleteInstance(ctx context.Context, service, id string) error

	// AddHealthy adds an instance whose health endpoint is healthURL and
	// returns once the proxy sends it traffic, which it must only do once
	// the instance is healthy.
	AddHealthy(ctx context.Context, service, id string, in Instance, healthURL string) error
	// Drain takes an instance out of rotation and removes it, returning
	// once the proxy holds no request or WebSocket on it, as far as the
	// proxy can tell. The caller then stops the backend gracefully.
	Drain(ctx context.Context, service, id string) error

	// Sync returns once every change made so far is served.
	Sync(ctx context.Context) error
	// Upgrade replaces the running binary with a new process of the same
	// binary, under load, the proxy's own way; it returns once the old
	// process has exited.
	Upgrade(ctx context.Context) error
	// Close stops the proxy and frees what it holds.
	Close() error
	// Log is the proxy's own log, for a report on failure.
	Log() string
}

// sleep waits d or until ctx ends; it paces scenarios, it never
// synchronises.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// poll calls cond every interval until it returns true or an error, or
// until ctx ends or within has passed.
func poll(ctx context.Context, within, interval time.Duration, what string, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	var last error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("%s: not within %s (last error: %w)", what, within, last)
			}
			return fmt.Errorf("%s: not within %s", what, within)
		case <-time.After(interval):
		}
	}
}
