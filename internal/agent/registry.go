package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/client"
	"github.com/webrouter/webrouter/internal/registry"
)

// Registry is where the agent writes. Implementations are safe for
// concurrent use. Errors wrap catalog.ErrNotFound when the named service or
// instance does not exist (for Heartbeat: the lease expired, register
// again).
type Registry interface {
	// Owned returns every instance whose owner is owner.
	Owned(ctx context.Context, owner string) ([]Current, error)
	// Service returns a service.
	Service(ctx context.Context, name string) (catalog.Service, error)
	// PutService creates or replaces a service.
	PutService(ctx context.Context, name string, spec catalog.ServiceSpec) error
	// PutInstance creates or replaces an instance of an existing service.
	PutInstance(ctx context.Context, service, id string, spec catalog.InstanceSpec) error
	// SetState changes only an instance's state.
	SetState(ctx context.Context, service, id string, state catalog.InstanceState) error
	// InFlight returns the requests and connections in flight on an
	// instance; known is false when the registry cannot tell (etcd has no
	// runtime state: only the routers know).
	InFlight(ctx context.Context, service, id string) (n int64, known bool, err error)
	// DeleteInstance removes an instance.
	DeleteInstance(ctx context.Context, service, id string) error
	// Heartbeat renews an instance's lease.
	Heartbeat(ctx context.Context, service, id string) error
}

// API is a Registry behind a router's admin API (the --registry http://…
// case): every router sharing that router's registry sees the writes, and
// InFlight is that router's count.
type API struct{ C *client.Client }

var _ Registry = API{}

// apiErr maps the admin API's 404 onto catalog.ErrNotFound.
func apiErr(err error) error {
	var e *client.APIError
	if errors.As(err, &e) && e.Status == http.StatusNotFound {
		return fmt.Errorf("%w: %v", catalog.ErrNotFound, err)
	}
	return err
}

// Owned lists every service and keeps the instances owned by owner.
func (a API) Owned(ctx context.Context, owner string) ([]Current, error) {
	list, err := a.C.Services(ctx)
	if err != nil {
		return nil, err
	}
	var out []Current
	for _, s := range list.Services {
		for _, in := range s.Instances {
			if in.Owner == owner {
				out = append(out, Current{Service: s.Name, Instance: in.Instance})
			}
		}
	}
	return out, nil
}

// Service implements Registry.
func (a API) Service(ctx context.Context, name string) (catalog.Service, error) {
	s, err := a.C.Service(ctx, name)
	return s.Service, apiErr(err)
}

// PutService implements Registry.
func (a API) PutService(ctx context.Context, name string, spec catalog.ServiceSpec) error {
	_, err := a.C.PutService(ctx, name, spec)
	return apiErr(err)
}

// PutInstance implements Registry.
func (a API) PutInstance(ctx context.Context, service, id string, spec catalog.InstanceSpec) error {
	_, err := a.C.PutInstance(ctx, service, id, spec)
	return apiErr(err)
}

// SetState implements Registry.
func (a API) SetState(ctx context.Context, service, id string, state catalog.InstanceState) error {
	_, err := a.C.SetInstanceState(ctx, service, id, state)
	return apiErr(err)
}

// InFlight implements Registry with the router's runtime count.
func (a API) InFlight(ctx context.Context, service, id string) (int64, bool, error) {
	in, err := a.C.Instance(ctx, service, id)
	if err != nil {
		return 0, false, apiErr(err)
	}
	return in.InFlight, true, nil
}

// DeleteInstance implements Registry.
func (a API) DeleteInstance(ctx context.Context, service, id string) error {
	return apiErr(a.C.DeleteInstance(ctx, service, id))
}

// Heartbeat implements Registry.
func (a API) Heartbeat(ctx context.Context, service, id string) error {
	return apiErr(a.C.Heartbeat(ctx, service, id))
}

// Store is a Registry written directly to a registry.Store (the
// --registry etcd://… case, with internal/registry/etcd's Store). It has no
// runtime state, so InFlight is never known.
type Store struct{ S registry.Store }

var _ Registry = Store{}

// Owned reads the store's mirrored state.
func (s Store) Owned(_ context.Context, owner string) ([]Current, error) {
	var out []Current
	for _, e := range s.S.State().List() {
		for _, in := range e.Instances {
			if in.Owner == owner {
				out = append(out, Current{Service: e.Service.Name, Instance: in})
			}
		}
	}
	return out, nil
}

// Service implements Registry.
func (s Store) Service(_ context.Context, name string) (catalog.Service, error) {
	e, ok := s.S.State().Get(name)
	if !ok {
		return catalog.Service{}, fmt.Errorf("service %q: %w", name, catalog.ErrNotFound)
	}
	return e.Service, nil
}

// PutService implements Registry.
func (s Store) PutService(ctx context.Context, name string, spec catalog.ServiceSpec) error {
	svc, err := catalog.NewService(name, spec)
	if err != nil {
		return err
	}
	_, _, err = s.S.PutService(ctx, svc)
	return err
}

// PutInstance implements Registry.
func (s Store) PutInstance(ctx context.Context, service, id string, spec catalog.InstanceSpec) error {
	in, err := catalog.NewInstance(id, spec)
	if err != nil {
		return err
	}
	_, _, err = s.S.PutInstance(ctx, service, in)
	return err
}

// SetState implements Registry.
func (s Store) SetState(ctx context.Context, service, id string, state catalog.InstanceState) error {
	_, _, err := s.S.SetInstanceState(ctx, service, id, state)
	return err
}

// InFlight implements Registry: never known.
func (s Store) InFlight(context.Context, string, string) (int64, bool, error) { return 0, false, nil }

// DeleteInstance implements Registry.
func (s Store) DeleteInstance(ctx context.Context, service, id string) error {
	_, err := s.S.DeleteInstance(ctx, service, id)
	return err
}

// Heartbeat implements Registry.
func (s Store) Heartbeat(ctx context.Context, service, id string) error {
	return s.S.Heartbeat(ctx, service, id)
}
