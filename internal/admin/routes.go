package admin

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/webrouter/webrouter/internal/api"
	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/route"
)

func (s *server) routes(w http.ResponseWriter, r *http.Request) {
	t := s.Live.Table()
	out := api.Routes{Generation: t.Gen, Revision: t.Rev, Routes: []api.Route{}, Problems: t.Problems}
	now := time.Now()
	t.Routes(func(rt route.Route, svc *route.Service) {
		v := api.Route{
			Host: rt.Host, Path: rt.Path, Service: svc.Name, Balance: svc.Balance,
			StripPrefix: svc.StripPrefix, HTTPSOnly: svc.HTTPSOnly, Instances: instancesView(svc, now),
		}
		if v.Path == "" {
			v.Path = "/"
		}
		out.Routes = append(out.Routes, v)
	})
	s.streamsView(t, &out, now)
	sort.Slice(out.Routes, func(i, j int) bool {
		a, b := out.Routes[i], out.Routes[j]
		if a.Host != b.Host {
			return a.Host < b.Host
		}
		if len(a.Path) != len(b.Path) {
			return len(a.Path) > len(b.Path)
		}
		return a.Path < b.Path
	})
	writeJSON(w, http.StatusOK, out)
}

func (s *server) status(w http.ResponseWriter, r *http.Request) {
	t := s.Live.Table()
	st := s.Store.State()
	out := api.Status{
		Version: s.Version, PID: os.Getpid(), Registry: s.Store.Kind(), State: s.Store.Status().State, Reason: s.Store.Status().Reason,
		Generation: t.Gen, Revision: t.Rev, Addresses: s.Hosts.Len(), Started: s.Started,
	}
	for _, e := range st.List() {
		out.Services++
		out.Instances += len(e.Instances)
	}
	writeJSON(w, http.StatusOK, out)
}

// splitAddr splits a target's "host:port" (IPv6 in brackets).
func splitAddr(addr string) (string, int) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, 0
	}
	port, _ := strconv.Atoi(portStr)
	return host, port
}

// instancesView lists a service's targets with their runtime state.
func instancesView(svc *route.Service, now time.Time) []api.Instance {
	out := []api.Instance{}
	for _, tg := range svc.Targets {
		host, port := splitAddr(tg.Addr)
		iv := api.Instance{
			Instance: catalog.Instance{ID: tg.ID, Address: host, Port: port, Weight: tg.Weight, State: catalog.InstanceState(tg.State)},
			Health:   tg.Host.Health(now), InFlight: tg.Endpoint.InFlight(), Requests: tg.Host.Total(), Fails: tg.Host.Fails(),
		}
		if d := tg.Host.PassiveDownUntil(now); !d.IsZero() {
			iv.DownUntil = d.UTC()
		}
		out = append(out, iv)
	}
	return out
}

// streamsView adds the passthrough routes and the TCP ports; a port that
// cannot be opened is also named in the problems.
func (s *server) streamsView(t *route.Table, out *api.Routes, now time.Time) {
	t.PassthroughRoutes(func(host string, svc *route.Service) {
		out.Passthrough = append(out.Passthrough, api.Route{Host: host, Path: "/", Service: svc.Name, Balance: svc.Balance,
			Instances: instancesView(svc, now)})
	})
	sort.Slice(out.Passthrough, func(i, j int) bool { return out.Passthrough[i].Host < out.Passthrough[j].Host })
	if s.Ports == nil {
		return
	}
	for _, p := range s.Ports() {
		if svc := t.TCP(p.Port); svc != nil {
			p.Instances = instancesView(svc, now)
		}
		if p.Instances == nil {
			p.Instances = []api.Instance{}
		}
		if p.Error != "" {
			out.Problems = append(slices.Clip(out.Problems), fmt.Sprintf("tcp port %d of service %q is not listening: %s (retried)", p.Port, p.Service, p.Error))
		}
		out.TCP = append(out.TCP, p)
	}
}
