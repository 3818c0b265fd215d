// Package agent registers the containers of one Docker host in webrouter's
// registry and keeps the registry true to what runs: the `webrouter agent`
// command.
//
// The agent works in three pure steps and one loop:
//
//	Docker (list, inspect, events) ──► Container ──► Registrations (labels.go)
//	registry (instances this host owns) ──► Current ──► Plan (plan.go) ──► writes
//
// Registrations computes what one container should register from its
// labels, environment, ports and health; Plan compares what should be
// registered with what the registry holds for this host and returns the
// writes. Agent (agent.go) runs them: a full re-list and reconcile at start,
// after every reconnection to Docker and periodically, and a sync of one
// container at each of its events; every instance carries a lease that the
// agent renews (heartbeat.go). The registry is reached through the Registry
// interface (registry.go): the admin API of a router, or etcd directly.
package agent

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Container is what the agent needs to know about one Docker container,
// independent of the Docker client's types (see docker.go for the
// conversion).
type Container struct {
	ID         string            // full id (64 hex digits)
	Name       string            // without Docker's leading '/'
	Image      string            // as given to docker run, e.g. "redis:7"
	Labels     map[string]string // Config.Labels
	Env        map[string]string // Config.Env, split at the first '='
	Running    bool              // running (paused or not), not restarting
	Paused     bool
	Health     string    // "" (no health check), "starting", "healthy" or "unhealthy"
	StopSignal string    // Config.StopSignal ("" means SIGTERM)
	Ports      []Port    // exposed ports with their host bindings, sorted
	Networks   []Network // networks with an address, sorted by name
}

// Health check states as Docker reports them.
const (
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// Port is one exposed container port and, when it is published, one of its
// host bindings.
type Port struct {
	Port     int    // container port
	Proto    string // "tcp", "udp", "sctp"
	HostIP   string // binding address; "" or unspecified (0.0.0.0, ::) means all interfaces
	HostPort int    // 0 when not published
}

// Network is one network the container is attached to.
type Network struct {
	Name string
	IP   string
}

// ShortID is the 12-digit id Docker shows.
func (c Container) ShortID() string { return ShortID(c.ID) }

// ShortID returns the first 12 characters of a container id.
func ShortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// sortPorts orders ports by number, protocol, then binding (IPv4 first), so
// that every choice made from them is deterministic.
func sortPorts(ps []Port) {
	slices.SortFunc(ps, func(a, b Port) int {
		return cmp.Or(cmp.Compare(a.Port, b.Port), strings.Compare(a.Proto, b.Proto),
			cmp.Compare(strings.Count(a.HostIP, ":"), strings.Count(b.HostIP, ":")),
			strings.Compare(a.HostIP, b.HostIP), cmp.Compare(a.HostPort, b.HostPort))
	})
}

// IsStopSignal reports whether a kill event with signal sig (a number, as
// Docker sends it, or a name) means the container is being stopped: SIGINT,
// SIGQUIT, SIGKILL, SIGTERM, or the container's own stop signal.
func IsStopSignal(sig, containerStop string) bool {
	switch n := signalNumber(sig); n {
	case 0:
		return false
	case 2, 3, 9, 15:
		return true
	default:
		return containerStop != "" && signalNumber(containerStop) == n
	}
}

// signalNumber parses "15", "TERM" or "SIGTERM" (Linux numbering); 0 when
// unknown.
func signalNumber(s string) int {
	s = strings.ToUpper(strings.TrimSpace(s))
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	switch strings.TrimPrefix(s, "SIG") {
	case "HUP":
		return 1
	case "INT":
		return 2
	case "QUIT":
		return 3
	case "KILL":
		return 9
	case "USR1":
		return 10
	case "USR2":
		return 12
	case "TERM":
		return 15
	case "WINCH":
		return 28
	case "PWR":
		return 30
	case "RTMIN+3":
		return 37
	}
	return 0
}
