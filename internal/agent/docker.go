package agent

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
)

// Engine is the Docker engine as the agent uses it.
type Engine interface {
	// List returns every running container, inspected.
	List(ctx context.Context) ([]Container, error)
	// Inspect returns one container; ok is false when it does not exist.
	Inspect(ctx context.Context, id string) (c Container, ok bool, err error)
	// Events streams container events until ctx ends or the stream
	// breaks; then the error channel receives why (ctx.Err() or the
	// failure) and both channels are left alone.
	Events(ctx context.Context) (<-chan Event, <-chan error)
}

// Event is one container event.
type Event struct {
	Action string // "start", "kill", "die", "stop", "destroy", "pause", "unpause", "health_status: healthy", …
	ID     string // full container id
	Signal string // for "kill": the signal number Docker sent
}

// EventActions are the container events the agent subscribes to.
func EventActions() []string {
	return []string{"start", "kill", "die", "stop", "destroy", "pause", "unpause", "health_status"}
}

// Docker is the Engine of a Docker daemon, through the official Moby
// client. The API version is negotiated with the daemon (Docker 20.10 and
// later speak at least API 1.41).
type Docker struct{ C *client.Client }

var _ Engine = Docker{}

// NewDocker returns a client for the daemon at host ("unix:///var/run/docker.sock",
// "tcp://10.0.0.7:2376"); "" means $DOCKER_HOST or the default socket
// (with $DOCKER_TLS_VERIFY and $DOCKER_CERT_PATH honoured).
func NewDocker(host string) (Docker, error) {
	opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if host != "" {
		opts = append(opts, client.WithHost(host))
	}
	c, err := client.New(opts...)
	if err != nil {
		return Docker{}, fmt.Errorf("docker client for %q: %w", host, err)
	}
	return Docker{C: c}, nil
}

// Close releases the client's connections.
func (d Docker) Close() error { return d.C.Close() }

// List implements Engine: docker ps, then an inspect of each container
// (labels, environment, port bindings and health are all needed). A
// container that disappears in between is left out.
func (d Docker) List(ctx context.Context) ([]Container, error) {
	res, err := d.C.ContainerList(ctx, client.ContainerListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list containers at %s: %w", d.C.DaemonHost(), err)
	}
	out := make([]Container, 0, len(res.Items))
	for _, s := range res.Items {
		c, ok, err := d.Inspect(ctx, s.ID)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, c)
		}
	}
	return out, nil
}

// Inspect implements Engine.
func (d Docker) Inspect(ctx context.Context, id string) (Container, bool, error) {
	res, err := d.C.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return Container{}, false, nil
	}
	if err != nil {
		return Container{}, false, fmt.Errorf("inspect container %s: %w", ShortID(id), err)
	}
	return fromInspect(res.Container), true, nil
}

// Events implements Engine with a filtered event stream (type=container,
// the actions of EventActions).
func (d Docker) Events(ctx context.Context) (<-chan Event, <-chan error) {
	f := make(client.Filters).Add("type", string(events.ContainerEventType)).Add("event", EventActions()...)
	res := d.C.Events(ctx, client.EventsListOptions{Filters: f})
	out := make(chan Event)
	errs := make(chan error, 1)
	go func() {
		for {
			select {
			case m := <-res.Messages:
				ev := Event{Action: string(m.Action), ID: m.Actor.ID, Signal: m.Actor.Attributes["signal"]}
				select {
				case out <- ev:
				case <-ctx.Done():
					errs <- ctx.Err()
					return
				}
			case err := <-res.Err:
				if err == nil {
					err = fmt.Errorf("event stream of %s ended", d.C.DaemonHost())
				}
				errs <- err
				return
			}
		}
	}()
	return out, errs
}

// fromInspect converts Docker's inspect document.
func fromInspect(r container.InspectResponse) Container {
	c := Container{ID: r.ID, Name: strings.TrimPrefix(r.Name, "/"), Labels: map[string]string{}, Env: map[string]string{}}
	if cfg := r.Config; cfg != nil {
		c.Image, c.StopSignal = cfg.Image, cfg.StopSignal
		for k, v := range cfg.Labels {
			c.Labels[k] = v
		}
		for _, kv := range cfg.Env {
			k, v, _ := strings.Cut(kv, "=")
			c.Env[k] = v
		}
		for p := range cfg.ExposedPorts {
			c.Ports = append(c.Ports, Port{Port: int(p.Num()), Proto: string(p.Proto())})
		}
	}
	if st := r.State; st != nil {
		c.Running = st.Running && !st.Restarting
		c.Paused = st.Paused
		if st.Health != nil && st.Health.Status != container.NoHealthcheck {
			c.Health = string(st.Health.Status)
		}
	}
	if ns := r.NetworkSettings; ns != nil {
		published := map[Port]bool{} // keyed by port and protocol only
		var bound []Port
		for p, bindings := range ns.Ports {
			for _, b := range bindings {
				hp, err := strconv.Atoi(b.HostPort)
				if err != nil || hp == 0 {
					continue
				}
				ip := ""
				if b.HostIP.IsValid() {
					ip = b.HostIP.String()
				}
				bound = append(bound, Port{Port: int(p.Num()), Proto: string(p.Proto()), HostIP: ip, HostPort: hp})
				published[Port{Port: int(p.Num()), Proto: string(p.Proto())}] = true
			}
			if len(bindings) == 0 { // exposed, not published
				c.Ports = append(c.Ports, Port{Port: int(p.Num()), Proto: string(p.Proto())})
			}
		}
		// A published port replaces its unpublished entry from ExposedPorts.
		kept := c.Ports[:0]
		for _, p := range c.Ports {
			if !published[Port{Port: p.Port, Proto: p.Proto}] {
				kept = append(kept, p)
			}
		}
		c.Ports = append(dedupe(kept), bound...)
		for name, ep := range ns.Networks {
			if ep != nil && ep.IPAddress.IsValid() {
				c.Networks = append(c.Networks, Network{Name: name, IP: ep.IPAddress.String()})
			}
		}
		sort.Slice(c.Networks, func(i, j int) bool { return c.Networks[i].Name < c.Networks[j].Name })
	}
	sortPorts(c.Ports)
	return c
}

// dedupe drops repeated unpublished ports (exposed by the image and listed
// again by the network settings).
func dedupe(ps []Port) []Port {
	seen := map[Port]bool{}
	out := ps[:0]
	for _, p := range ps {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}
