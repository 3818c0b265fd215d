// Package registry defines what webrouter needs from a registry backend.
//
// A backend (the embedded bbolt store, etcd, …) persists services,
// instances and certificates and mirrors them into a catalog.State, from which the router
// compiles its table (via State.Subscribe) and the admin API reads.
package registry

import (
	"context"
	"errors"

	"github.com/webrouter/webrouter/internal/catalog"
)

// ErrUnavailable is returned (wrapped) when the backend cannot take writes
// right now, e.g. it cannot reach its cluster.
var ErrUnavailable = errors.New("registry unavailable")

// Status is a backend's health as the admin API reports it.
type Status struct {
	State  string // "ok" or "degraded"
	Reason string // why degraded; empty when ok
}

// Handoff is implemented by backends that hold a resource only one process
// may have (the embedded store's file lock): during a binary upgrade the
// old process suspends it so that the new one can start, and resumes it if
// the new one fails.
type Handoff interface {
	Suspend() error
	Resume() error
}

// Store is a registry that webrouter can write to.
//
// Writes take validated values (catalog.NewService / NewInstance) and are
// atomic: on error nothing changed. On success the change is already
// applied to State() at the returned revision. Errors wrap
// catalog.ErrNotFound, *catalog.ConflictError or ErrUnavailable where those
// apply.
type Store interface {
	// Kind names the backend for status output ("embedded", "etcd").
	Kind() string
	// State is the backend's mirrored desired state.
	State() *catalog.State
	// PutService creates or replaces a service; it fails with a
	// *catalog.ConflictError if another service owns one of its mountpoints.
	PutService(ctx context.Context, svc catalog.Service) (created bool, rev uint64, err error)
	// DeleteService removes a service and all its instances.
	DeleteService(ctx context.Context, name string) (rev uint64, err error)
	// PutInstance creates or replaces an instance of an existing service.
	PutInstance(ctx context.Context, service string, in catalog.Instance) (created bool, rev uint64, err error)
	// DeleteInstance removes one instance.
	DeleteInstance(ctx context.Context, service, id string) (rev uint64, err error)
	// SetInstanceState changes only the administrative state of an
	// instance, atomically, and returns the stored instance.
	SetInstanceState(ctx context.Context, service, id string, state catalog.InstanceState) (catalog.Instance, uint64, error)
	// Heartbeat renews the lease of an instance registered with a TTL; an
	// instance whose lease is not renewed within its TTL is removed. It
	// wraps catalog.ErrNotFound if the instance is gone (expired or
	// deleted): the caller should register it again.
	Heartbeat(ctx context.Context, service, id string) error
	// PutCertificate creates or replaces a TLS certificate (validated by
	// catalog.NewCertificate). Certificates are registry data so that
	// every router sharing the registry serves them; the key is stored
	// with them, so the store must be protected accordingly.
	PutCertificate(ctx context.Context, c *catalog.Certificate) (created bool, rev uint64, err error)
	// DeleteCertificate removes a certificate; the error wraps
	// catalog.ErrNotFound if there is none by that name.
	DeleteCertificate(ctx context.Context, name string) (rev uint64, err error)
	// Status reports whether the backend can take writes ("ok") or is
	// serving from its last state ("degraded"), and why.
	Status() Status
	// Close releases the backend.
	Close() error
}
