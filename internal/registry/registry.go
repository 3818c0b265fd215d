// Package registry defines what webrouter needs from a registry backend.
//
// A backend (the embedded bbolt store, etcd, …) persists services and
// instances and mirrors them into a catalog.State, from which the router
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
	// Close releases the backend.
	Close() error
}
