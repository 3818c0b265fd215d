package catalog

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// InstanceState is an instance's administrative state.
type InstanceState string

// Instance states. Only Ready instances receive new requests.
const (
	Ready       InstanceState = "ready"
	Draining    InstanceState = "draining"    // no new requests; in-flight ones finish
	Maintenance InstanceState = "maintenance" // no requests; kept in the registry
)

// Weight bounds. Weight 0 means the instance takes no new traffic.
const (
	DefaultWeight = 10
	MaxWeight     = 1000
)

// Instance is one running copy of a service, in canonical form.
type Instance struct {
	ID      string        `json:"id"`
	Address string        `json:"address"` // IP (canonical form) or DNS name, no port
	Port    int           `json:"port"`
	Weight  int           `json:"weight"`
	State   InstanceState `json:"state"`
	TTL     Duration      `json:"ttl,omitempty"`   // lease: the instance is removed unless renewed within TTL; 0 = no lease
	Owner   string        `json:"owner,omitempty"` // who registered it (e.g. a Docker agent's host id)
}

// Lease bounds.
const (
	MinTTL = time.Second
	MaxTTL = 24 * time.Hour
)

// InstanceSpec is what a client writes for an instance; Weight and State
// take their defaults when absent.
type InstanceSpec struct {
	ID      string        `json:"id,omitempty"` // optional; must equal the id in the path
	Address string        `json:"address"`
	Port    int           `json:"port"`
	Weight  *int          `json:"weight,omitempty"`
	State   InstanceState `json:"state,omitempty"`
	TTL     string        `json:"ttl,omitempty"`   // Go duration, e.g. "30s"; renew with a heartbeat
	Owner   string        `json:"owner,omitempty"` // free-form owner id, at most 253 characters
}

// NewInstance validates spec, applies defaults and returns the instance in
// canonical form, or a *FieldError.
func NewInstance(id string, spec InstanceSpec) (Instance, error) {
	if err := CheckInstanceID("id", id); err != nil {
		return Instance{}, err
	}
	if spec.ID != "" && spec.ID != id {
		return Instance{}, fieldErr("id", "%q does not match the instance id %q in the path", spec.ID, id)
	}
	addr, err := checkAddress(spec.Address)
	if err != nil {
		return Instance{}, err
	}
	in := Instance{ID: id, Address: addr, Port: spec.Port, Weight: DefaultWeight, State: spec.State}
	if spec.Weight != nil {
		in.Weight = *spec.Weight
	}
	if in.State == "" {
		in.State = Ready
	}
	if in.Port < 1 || in.Port > 65535 {
		return Instance{}, fieldErr("port", "%d is outside 1–65535", in.Port)
	}
	if in.Weight < 0 || in.Weight > MaxWeight {
		return Instance{}, fieldErr("weight", "%d is outside 0–%d (0 = no new traffic)", in.Weight, MaxWeight)
	}
	if err := CheckState(in.State); err != nil {
		return Instance{}, err
	}
	if spec.TTL != "" {
		d, err := time.ParseDuration(spec.TTL)
		if err != nil {
			return Instance{}, fieldErr("ttl", "%q is not a duration; want e.g. \"30s\"", spec.TTL)
		}
		if d < MinTTL || d > MaxTTL {
			return Instance{}, fieldErr("ttl", "%s is outside %s–%s", d, MinTTL, MaxTTL)
		}
		in.TTL = Duration(d)
	}
	if len(spec.Owner) > 253 {
		return Instance{}, fieldErr("owner", "longer than 253 characters")
	}
	in.Owner = spec.Owner
	return in, nil
}

// ParseInstance decodes a stored instance (the JSON of an Instance) and
// checks it as NewInstance would.
func ParseInstance(data []byte) (Instance, error) {
	var in Instance
	if err := json.Unmarshal(data, &in); err != nil {
		return Instance{}, fmt.Errorf("decode instance: %w", err)
	}
	spec := InstanceSpec{Address: in.Address, Port: in.Port, Weight: &in.Weight, State: in.State, Owner: in.Owner}
	if in.TTL != 0 {
		spec.TTL = in.TTL.String()
	}
	return NewInstance(in.ID, spec)
}

// HostPort returns "address:port" ("[v6]:port" for IPv6), the key of an
// address's runtime state.
func (in Instance) HostPort() string {
	return net.JoinHostPort(in.Address, strconv.Itoa(in.Port))
}

// CheckState validates an administrative state.
func CheckState(s InstanceState) error {
	switch s {
	case Ready, Draining, Maintenance:
		return nil
	}
	return fieldErr("state", "%q is not a state; want ready, draining or maintenance", s)
}

// CheckInstanceID validates an instance id: like a service name, plus ':'.
func CheckInstanceID(field, id string) error {
	return checkIdent(field, id, ":")
}

// checkAddress accepts an IP literal or a DNS name, without a port.
func checkAddress(a string) (string, error) {
	if a == "" {
		return "", fieldErr("address", "required: an IP address or host name, e.g. \"10.0.0.5\"")
	}
	if ip, err := netip.ParseAddr(a); err == nil {
		if ip.Zone() != "" {
			return "", fieldErr("address", "%q: zoned IPv6 addresses are not supported", a)
		}
		return ip.Unmap().String(), nil
	}
	if _, _, err := net.SplitHostPort(a); err == nil {
		return "", fieldErr("address", "%q includes a port; give the port in the \"port\" field", a)
	}
	name := strings.ToLower(strings.TrimSuffix(a, "."))
	if problem := checkHostname(name); problem != "" {
		return "", fieldErr("address", "%q is not an IP address, and as a host name it %s", a, problem)
	}
	numeric := true
	for _, label := range strings.Split(name, ".") {
		if strings.Trim(label, "0123456789") != "" {
			numeric = false
		}
	}
	if numeric {
		return "", fieldErr("address", "%q is not a valid IP address", a)
	}
	return name, nil
}
