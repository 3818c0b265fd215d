package agent

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/webrouter/webrouter/internal/catalog"
)

// Labels the agent reads. The webrouter.* keys are container labels; the
// SERVICE_* keys (registrator's) may be labels or environment variables,
// and a label wins. A webrouter.* label wins over its SERVICE_* synonym.
const (
	LabelService     = "webrouter.service"     // service name (SERVICE_NAME)
	LabelMountpoints = "webrouter.mountpoints" // comma-separated; the agent creates or updates the service
	LabelPort        = "webrouter.port"        // which container port, when several
	LabelHealthcheck = "webrouter.healthcheck" // the service's active health check ("/healthz" or "tcp")
	LabelWeight      = "webrouter.weight"      // instance weight, 0–1000

	EnvName   = "SERVICE_NAME"
	EnvTags   = "SERVICE_TAGS"   // comma-separated; shown, not routed on
	EnvIgnore = "SERVICE_IGNORE" // any value but "", "0" or "false" skips the container
	// SERVICE_<port>_NAME, SERVICE_<port>_TAGS and SERVICE_<port>_IGNORE
	// apply to one container port.
)

// Options are the agent settings that shape registrations.
type Options struct {
	HostID   string // owner of every instance and the first part of its id
	HostIP   string // address of published ports bound to all interfaces
	Internal bool   // register the container's own network address and port
	All      bool   // take every container with a (published) TCP port, labelled or not
}

// Registration is one instance the agent should register for a container.
type Registration struct {
	Service   string `json:"service"`
	ID        string `json:"id"` // "<host id>:<short container id>", plus ":<port>" when the container registers several ports
	Container string `json:"container"`
	Name      string `json:"name"` // the container's name, for people
	Address   string `json:"address"`
	Port      int    `json:"port"`
	Weight    int    `json:"weight"`
	// Ready is false while the container must not get traffic: its health
	// check is starting or failing, it is paused, or it is being stopped.
	// Such an instance is not created, and is drained if it exists.
	Ready  bool   `json:"ready"`
	Reason string `json:"reason,omitempty"` // why not ready

	// Service settings from the labels; when Mountpoints or Healthcheck is
	// set the agent creates or updates the service.
	Mountpoints []string `json:"mountpoints,omitempty"`
	Healthcheck string   `json:"healthcheck,omitempty"`
	Tags        []string `json:"tags,omitempty"`
}

// Key names an instance in the registry.
type Key struct{ Service, ID string }

// Key returns the registration's service and instance id.
func (r Registration) Key() Key { return Key{r.Service, r.ID} }

// Problem is why a container the agent should take cannot be registered:
// a bad label, no port, no address. It names the container.
type Problem struct {
	Container string `json:"container"` // short id
	Name      string `json:"name"`
	Reason    string `json:"reason"`
}

func (p *Problem) Error() string {
	return fmt.Sprintf("container %s (%s): %s", p.Name, p.Container, p.Reason)
}

// Registrations returns what container c should register: nothing when it
// is not running, not selected (no webrouter.service or SERVICE_NAME
// without --all) or ignored (SERVICE_IGNORE), one registration per port it
// serves otherwise, or a *Problem saying why it cannot be registered. It is
// a pure function of c and o.
func Registrations(c Container, o Options) ([]Registration, error) {
	if !c.Running {
		return nil, nil
	}
	if truthy(env(c, EnvIgnore)) {
		return nil, nil
	}
	bad := func(format string, args ...any) ([]Registration, error) {
		return nil, &Problem{Container: c.ShortID(), Name: c.Name, Reason: fmt.Sprintf(format, args...)}
	}
	base, named := label(c, LabelService)
	if !named {
		base, named = envLookup(c, EnvName)
	}
	if !named && !o.All {
		return nil, nil
	}
	ports := candidatePorts(c, o.Internal)
	if !named {
		if len(ports) == 0 {
			return nil, nil // --all takes containers with ports only
		}
		base = derivedName(c)
	}
	if err := catalog.CheckName(LabelService, base); err != nil {
		return bad("%v", err)
	}
	if p, ok := label(c, LabelPort); ok {
		n, err := strconv.Atoi(p)
		var chosen []Port
		for _, cand := range ports {
			if cand.Port == n {
				chosen = append(chosen, cand)
			}
		}
		if err != nil || len(chosen) == 0 {
			return bad("%s=%q is not one of its %s TCP ports %s", LabelPort, p, kindOfPorts(o.Internal), listPorts(ports))
		}
		ports = chosen
	}
	var kept []Port
	for _, p := range ports {
		if !truthy(env(c, fmt.Sprintf("SERVICE_%d_IGNORE", p.Port))) {
			kept = append(kept, p)
		}
	}
	if len(kept) == 0 {
		if len(ports) > 0 {
			return nil, nil // every port ignored
		}
		if o.Internal {
			return bad("exposes no TCP port; EXPOSE one in the image or run it with --expose")
		}
		return bad("publishes no TCP port; run it with -p (e.g. -p 8080 or -p 127.0.0.1::8080), or run the agent with --internal")
	}
	shared, err := sharedSettings(c)
	if err != nil {
		return bad("%v", err)
	}
	if len(kept) > 1 && (len(shared.Mountpoints) > 0 || shared.Healthcheck != "") {
		return bad("serves several TCP ports %s: say which one %s applies to with %s", listPorts(kept), LabelMountpoints, LabelPort)
	}
	ready, reason := readiness(c)
	var out []Registration
	for _, p := range kept {
		r := shared
		r.Container, r.Name, r.Ready, r.Reason = c.ShortID(), c.Name, ready, reason
		r.ID = o.HostID + ":" + c.ShortID()
		r.Service = base
		if len(kept) > 1 {
			r.ID += ":" + strconv.Itoa(p.Port)
			r.Service = base + "-" + strconv.Itoa(p.Port)
		}
		if name, ok := envLookup(c, fmt.Sprintf("SERVICE_%d_NAME", p.Port)); ok {
			r.Service = name
		}
		if r.Service != base {
			r.Mountpoints, r.Healthcheck = nil, ""
		}
		if err := catalog.CheckName(fmt.Sprintf("SERVICE_%d_NAME", p.Port), r.Service); err != nil {
			return bad("%v", err)
		}
		if tags, ok := envLookup(c, fmt.Sprintf("SERVICE_%d_TAGS", p.Port)); ok {
			r.Tags = splitList(tags)
		}
		if r.Address, r.Port, err = address(c, p, o); err != nil {
			return bad("%v", err)
		}
		if err := catalog.CheckInstanceID("instance id", r.ID); err != nil {
			return bad("%v", err)
		}
		out = append(out, r)
	}
	return out, nil
}

// sharedSettings reads the labels that apply to every port of c: weight,
// mountpoints, health check and tags.
func sharedSettings(c Container) (Registration, error) {
	r := Registration{Weight: catalog.DefaultWeight}
	if w, ok := label(c, LabelWeight); ok {
		n, err := strconv.Atoi(w)
		if err != nil || n < 0 || n > catalog.MaxWeight {
			return r, fmt.Errorf("%s=%q: want a whole number 0–%d (0 = no new traffic)", LabelWeight, w, catalog.MaxWeight)
		}
		r.Weight = n
	}
	if m, ok := label(c, LabelMountpoints); ok {
		r.Mountpoints = splitList(m)
		for i, raw := range r.Mountpoints {
			mp, err := catalog.ParseMountpoint(LabelMountpoints, raw)
			if err != nil {
				return r, err
			}
			r.Mountpoints[i] = mp.String()
		}
		if len(r.Mountpoints) == 0 {
			return r, fmt.Errorf("%s is empty; want e.g. demo.lain.local,lain.demo.com/hello", LabelMountpoints)
		}
	}
	if hc, ok := label(c, LabelHealthcheck); ok {
		// NewService checks the health check as the router will.
		if _, err := catalog.NewService("x", catalog.ServiceSpec{Mountpoints: []string{"x"}, Healthcheck: hc}); err != nil {
			return r, fmt.Errorf("%s: %v", LabelHealthcheck, err)
		}
		r.Healthcheck = hc
	}
	if tags, ok := envLookup(c, EnvTags); ok {
		r.Tags = splitList(tags)
	}
	return r, nil
}

// readiness says whether c may take traffic and, if not, why.
func readiness(c Container) (bool, string) {
	switch {
	case c.Paused:
		return false, "paused"
	case c.Health == HealthStarting:
		return false, "health check starting"
	case c.Health == HealthUnhealthy:
		return false, "unhealthy"
	}
	return true, ""
}

// candidatePorts returns the TCP ports the agent may register: the
// published ones (one binding each, IPv4 first), or with internal every
// exposed one.
func candidatePorts(c Container, internal bool) []Port {
	var out []Port
	for _, p := range c.Ports {
		if p.Proto != "tcp" || (!internal && p.HostPort == 0) {
			continue
		}
		if n := len(out); n > 0 && out[n-1].Port == p.Port {
			continue // a second binding of the same port
		}
		out = append(out, p)
	}
	return out
}

// address is where the router reaches port p of c: the container's own
// network address with --internal; otherwise the published port on the
// address it is bound to, or on --host-ip when it is bound to all
// interfaces.
func address(c Container, p Port, o Options) (string, int, error) {
	if o.Internal {
		for _, n := range c.Networks {
			if n.IP != "" {
				return n.IP, p.Port, nil
			}
		}
		return "", 0, fmt.Errorf("has no network address for --internal (network mode host or none?)")
	}
	if ip, err := netip.ParseAddr(p.HostIP); err == nil && !ip.IsUnspecified() {
		return ip.Unmap().String(), p.HostPort, nil
	}
	if o.HostIP == "" {
		return "", 0, fmt.Errorf("port %d is published on all interfaces (host port %d): give the agent --host-ip, the address routers reach this host at", p.Port, p.HostPort)
	}
	return o.HostIP, p.HostPort, nil
}

// derivedName is the service name of an unlabelled container under --all:
// the image's base name without tag or digest, as registrator names it,
// made to fit webrouter's names ("registry:5000/team/My_App:1.2" →
// "my_app").
func derivedName(c Container) string {
	name := c.Image
	name, _, _ = strings.Cut(name, "@")
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	name, _, _ = strings.Cut(name, ":")
	if s := sanitize(name); s != "" {
		return s
	}
	return sanitize(c.Name)
}

// sanitize lower-cases s and replaces every character a name may not hold
// with '-', dropping leading ones that may not start a name.
func sanitize(s string) string {
	b := []byte(strings.ToLower(s))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '-'
		}
	}
	return strings.TrimLeft(string(b), "._-")
}

// label returns a webrouter.* label.
func label(c Container, key string) (string, bool) {
	v, ok := c.Labels[key]
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

// envLookup returns a registrator setting: the label, else the
// environment variable.
func envLookup(c Container, key string) (string, bool) {
	if v, ok := label(c, key); ok {
		return v, true
	}
	v := strings.TrimSpace(c.Env[key])
	return v, v != ""
}

// env is envLookup's value alone.
func env(c Container, key string) string {
	v, _ := envLookup(c, key)
	return v
}

// truthy is registrator's reading of SERVICE_IGNORE: any value but "",
// "0" and "false".
func truthy(v string) bool {
	v = strings.ToLower(strings.TrimSpace(v))
	return v != "" && v != "0" && v != "false"
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// listPorts shows ports as "(8080, 9090)", or "(none)".
func listPorts(ps []Port) string {
	if len(ps) == 0 {
		return "(none)"
	}
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = strconv.Itoa(p.Port)
	}
	return "(" + strings.Join(s, ", ") + ")"
}

func kindOfPorts(internal bool) string {
	if internal {
		return "exposed"
	}
	return "published"
}
