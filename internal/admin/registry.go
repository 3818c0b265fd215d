package admin

import (
	"fmt"
	"net/http"
	"time"

	"github.com/webrouter/webrouter/internal/api"
	"github.com/webrouter/webrouter/internal/catalog"
)

func (s *server) listServices(w http.ResponseWriter, r *http.Request) {
	st := s.Store.State()
	list := api.ServiceList{Revision: st.Rev(), Services: []api.Service{}}
	for _, e := range st.List() {
		list.Services = append(list.Services, s.serviceView(e))
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *server) getService(w http.ResponseWriter, r *http.Request) {
	e, err := s.entry(r.PathValue("name"))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.serviceView(e))
}

func (s *server) putService(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var spec catalog.ServiceSpec
	if err := decode(r, &spec); err != nil {
		fail(w, err)
		return
	}
	svc, err := catalog.NewService(name, spec)
	if err != nil {
		fail(w, err)
		return
	}
	created, rev, err := s.Store.PutService(r.Context(), svc)
	if err != nil {
		fail(w, err)
		return
	}
	s.settle(r, rev)
	e, err := s.entry(name)
	if err != nil { // deleted by a concurrent write
		fail(w, err)
		return
	}
	writeJSON(w, statusFor(created), s.serviceView(e))
}

func (s *server) deleteService(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := catalog.CheckName("name", name); err != nil {
		fail(w, err)
		return
	}
	rev, err := s.Store.DeleteService(r.Context(), name)
	if err != nil {
		fail(w, err)
		return
	}
	s.settle(r, rev)
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) getInstance(w http.ResponseWriter, r *http.Request) {
	in, err := s.instance(r.PathValue("name"), r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.instanceView(r.PathValue("name"), in))
}

func (s *server) putInstance(w http.ResponseWriter, r *http.Request) {
	name, id := r.PathValue("name"), r.PathValue("id")
	if err := catalog.CheckName("name", name); err != nil {
		fail(w, err)
		return
	}
	var spec catalog.InstanceSpec
	if err := decode(r, &spec); err != nil {
		fail(w, err)
		return
	}
	in, err := catalog.NewInstance(id, spec)
	if err != nil {
		fail(w, err)
		return
	}
	created, rev, err := s.Store.PutInstance(r.Context(), name, in)
	if err != nil {
		fail(w, err)
		return
	}
	s.settle(r, rev)
	writeJSON(w, statusFor(created), s.instanceView(name, in))
}

func (s *server) deleteInstance(w http.ResponseWriter, r *http.Request) {
	name, id, err := instancePath(r)
	if err != nil {
		fail(w, err)
		return
	}
	rev, err := s.Store.DeleteInstance(r.Context(), name, id)
	if err != nil {
		fail(w, err)
		return
	}
	s.settle(r, rev)
	w.WriteHeader(http.StatusNoContent)
}

func statusFor(created bool) int {
	if created {
		return http.StatusCreated
	}
	return http.StatusOK
}

// entry validates name and returns its entry.
func (s *server) entry(name string) (*catalog.Entry, error) {
	if err := catalog.CheckName("name", name); err != nil {
		return nil, err
	}
	e, ok := s.Store.State().Get(name)
	if !ok {
		return nil, fmt.Errorf("service %q: %w", name, catalog.ErrNotFound)
	}
	return e, nil
}

// instancePath returns the service name and instance id of an instance's
// URL path, checked.
func instancePath(r *http.Request) (name, id string, err error) {
	name, id = r.PathValue("name"), r.PathValue("id")
	if err := catalog.CheckName("name", name); err != nil {
		return "", "", err
	}
	if err := catalog.CheckInstanceID("id", id); err != nil {
		return "", "", err
	}
	return name, id, nil
}

func (s *server) instance(name, id string) (catalog.Instance, error) {
	e, err := s.entry(name)
	if err != nil {
		return catalog.Instance{}, err
	}
	if err := catalog.CheckInstanceID("id", id); err != nil {
		return catalog.Instance{}, err
	}
	in, ok := e.Instance(id)
	if !ok {
		return catalog.Instance{}, fmt.Errorf("instance %q of service %q: %w", id, name, catalog.ErrNotFound)
	}
	return in, nil
}

func (s *server) serviceView(e *catalog.Entry) api.Service {
	v := api.Service{Service: e.Service, Instances: make([]api.Instance, 0, len(e.Instances))}
	for _, in := range e.Instances {
		v.Instances = append(v.Instances, s.instanceView(e.Service.Name, in))
	}
	return v
}

// instanceView adds the runtime state this router has for the instance:
// what is in flight on it, and the health of its address.
func (s *server) instanceView(service string, in catalog.Instance) api.Instance {
	v := api.Instance{Instance: in}
	if ep, ok := s.Hosts.Endpoint(service + "/" + in.ID); ok {
		v.InFlight = ep.InFlight()
	}
	h, ok := s.Hosts.Get(in.HostPort())
	if !ok {
		return v
	}
	now := time.Now()
	v.Health = h.Health(now)
	v.Requests = h.Total()
	v.Fails = h.Fails()
	if t := h.PassiveDownUntil(now); !t.IsZero() {
		v.DownUntil = t.UTC()
	}
	return v
}
