package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/client"
)

// apply writes the service definitions of want, then runs Plan's steps.
// full makes it check every service against the registry (else only those
// whose labels changed since the last successful write). It returns a
// failure, preferring a transient one.
func (a *Agent) apply(ctx context.Context, want []Registration, have []Current, full bool) error {
	var first error
	fail := func(subject string, err error) {
		a.note(subject, err)
		if first == nil || (!transient(first) && transient(err)) {
			first = err // a transient failure, if any: it is retried sooner
		}
	}
	defs, warnings := ServiceDefs(want)
	for _, w := range warnings {
		a.note("labels "+w, errors.New(w))
	}
	for name, d := range defs {
		if err := a.ensureService(ctx, name, d, full); err != nil {
			fail("service "+name, err)
		} else {
			a.clear("service " + name)
		}
	}
	for _, st := range Plan(want, have, a.cfg.TTL, a.cfg.HostID) {
		subject := "instance " + st.Key.Service + "/" + st.Key.ID
		var err error
		switch st.Action {
		case Put:
			err = a.put(ctx, st)
		case SetState:
			err = a.setState(ctx, st)
		case Remove:
			a.startRemoval(ctx, st.Key)
		}
		if err != nil {
			fail(subject, err)
		} else {
			a.clear(subject)
		}
	}
	return first
}

// put registers an instance with the agent's lease.
func (a *Agent) put(ctx context.Context, st Step) error {
	spec := Spec(st.Reg, st.State, a.cfg.TTL, a.cfg.HostID)
	in, err := catalog.NewInstance(st.Key.ID, spec)
	if err == nil {
		err = a.reg.PutInstance(ctx, st.Key.Service, st.Key.ID, spec)
	}
	if errors.Is(err, catalog.ErrNotFound) {
		return fmt.Errorf("register %s of container %s: service %s %w: create it (webrouter service put %s --mountpoint …) or label the container with %s",
			st.Key.ID, st.Reg.Name, st.Key.Service, catalog.ErrNotFound, st.Key.Service, LabelMountpoints)
	}
	if err != nil {
		return fmt.Errorf("register %s/%s (container %s): %w", st.Key.Service, st.Key.ID, st.Reg.Name, err)
	}
	a.mu.Lock()
	a.known[st.Key] = &Current{Service: st.Key.Service, Instance: in, Wrote: st.State}
	a.mu.Unlock()
	a.log.Info("registered", "service", st.Key.Service, "id", st.Key.ID, "address", in.HostPort(), "state", string(st.State), "container", st.Reg.Name)
	return nil
}

// setState changes an instance's state: draining when its container may not
// take traffic, ready when it may again.
func (a *Agent) setState(ctx context.Context, st Step) error {
	err := a.reg.SetState(ctx, st.Key.Service, st.Key.ID, st.State)
	a.mu.Lock()
	defer a.mu.Unlock()
	if errors.Is(err, catalog.ErrNotFound) {
		delete(a.known, st.Key) // gone meanwhile; the next plan registers it if it is wanted
		return nil
	}
	if err != nil {
		return fmt.Errorf("set %s/%s %s: %w", st.Key.Service, st.Key.ID, st.State, err)
	}
	if cur := a.known[st.Key]; cur != nil {
		cur.Instance.State, cur.Wrote = st.State, st.State
	}
	why := st.Reg.Reason
	if why == "" {
		why = "ready"
	}
	a.log.Info("instance "+string(st.State), "service", st.Key.Service, "id", st.Key.ID, "container", st.Reg.Name, "why", why)
	return nil
}

// ensureService creates or updates a service as its containers' labels say.
func (a *Agent) ensureService(ctx context.Context, name string, d ServiceDef, full bool) error {
	a.mu.Lock()
	last, done := a.services[name]
	a.mu.Unlock()
	if done && !full && equalDefs(last, d) {
		return nil
	}
	var existing *catalog.Service
	svc, err := a.reg.Service(ctx, name)
	switch {
	case err == nil:
		existing = &svc
	case !errors.Is(err, catalog.ErrNotFound):
		return fmt.Errorf("read service %s: %w", name, err)
	}
	spec, write, err := ServiceUpdate(name, d, existing)
	if err != nil {
		return err
	}
	if write {
		if err := a.reg.PutService(ctx, name, spec); err != nil {
			return fmt.Errorf("write service %s from the labels of %s: %w", name, d.From, err)
		}
		a.log.Info("service written from labels", "service", name, "mountpoints", strings.Join(spec.Mountpoints, ","),
			"healthcheck", spec.Healthcheck, "container", d.From)
	}
	a.mu.Lock()
	a.services[name] = d
	a.mu.Unlock()
	return nil
}

func equalDefs(a, b ServiceDef) bool {
	return strings.Join(a.Mountpoints, ",") == strings.Join(b.Mountpoints, ",") && a.Healthcheck == b.Healthcheck
}

// note logs a problem about subject once, until it changes or clears.
func (a *Agent) note(subject string, err error) {
	a.mu.Lock()
	same := a.noted[subject] == err.Error()
	a.noted[subject] = err.Error()
	a.mu.Unlock()
	if !same {
		a.log.Warn(err.Error())
	}
}

// clear forgets subject's problem.
func (a *Agent) clear(subject string) {
	a.mu.Lock()
	delete(a.noted, subject)
	a.mu.Unlock()
}

// containerOf returns the short container id in an instance id
// "<host id>:<short id>[:<port>]", or "" when id is not of that form.
func containerOf(id, hostID string) string {
	rest, ok := strings.CutPrefix(id, hostID+":")
	if !ok {
		return ""
	}
	short, _, _ := strings.Cut(rest, ":")
	return short
}

// transient reports whether a failed write may succeed if simply tried
// again soon: the registry or the network was unavailable, as opposed to
// a write the registry refused (a missing service, a mountpoint another
// service claims, a bad value), which needs someone to act.
func transient(err error) bool {
	var apiErr *client.APIError
	var conflict *catalog.ConflictError
	var field *catalog.FieldError
	switch {
	case errors.As(err, &apiErr):
		return apiErr.Status >= 500 || apiErr.Status == http.StatusTooManyRequests
	case errors.Is(err, catalog.ErrNotFound), errors.As(err, &conflict), errors.As(err, &field):
		return false
	}
	return true
}
