package catalog

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// Balancing policies a service may name.
const (
	RoundRobin = "round_robin" // smooth weighted round robin (nginx's algorithm)
	LeastConn  = "least_conn"  // fewest in-flight requests per unit of weight
	IPHash     = "ip_hash"     // consistent hashing on the client address
)

// Policies lists the valid balancing policies, default first.
var Policies = []string{RoundRobin, LeastConn, IPHash}

// Defaults for passive health (the same as nginx's max_fails/fail_timeout).
const (
	DefaultMaxFails    = 3
	DefaultFailTimeout = 10 * time.Second
)

// Service is a routable service in canonical form. Values produced by
// NewService or ParseService are valid; a Service must not be modified after
// it has been handed to a State.
type Service struct {
	Name        string   `json:"name"`
	Mountpoints []string `json:"mountpoints"` // canonical, see Mountpoint
	Healthcheck string   `json:"healthcheck,omitempty"`
	HTTPSOnly   bool     `json:"https_only"`
	Balance     string   `json:"balance"`
	StripPrefix bool     `json:"strip_prefix"`
	MaxFails    int      `json:"max_fails"`
	FailTimeout Duration `json:"fail_timeout"`

	// Active health checks, when Healthcheck is set (else all zero).
	HealthInterval Duration `json:"health_interval,omitempty"`
	HealthTimeout  Duration `json:"health_timeout,omitempty"`
	HealthRise     int      `json:"health_rise,omitempty"`
	HealthFall     int      `json:"health_fall,omitempty"`
	HealthStatus   string   `json:"health_status,omitempty"` // e.g. "200-399" or "200,204"

	// HTTP options (see options.go).
	ResponseHeaders map[string]string `json:"response_headers,omitempty"` // canonical names; "" removes the header
	SecurityHeaders bool              `json:"security_headers"`           // HSTS, X-Frame-Options, nosniff on HTTPS responses
	BackendProtocol string            `json:"backend_protocol"`           // BackendHTTP or BackendH2C

	// Connection options, for tls:// and tcp:// mountpoints (see options.go).
	Passthrough   bool     `json:"passthrough,omitempty"`    // host mountpoints were given as TLS passthrough
	TCPPorts      []int    `json:"tcp_ports,omitempty"`      // sorted; each also a "tcp://:port" mountpoint
	ProxyProtocol string   `json:"proxy_protocol,omitempty"` // "", ProxyV1 or ProxyV2
	IdleTimeout   Duration `json:"idle_timeout,omitempty"`   // connections idle this long are closed
}

// Defaults for active health checks.
const (
	DefaultHealthInterval = 3 * time.Second
	DefaultHealthTimeout  = time.Second
	DefaultHealthRise     = 2
	DefaultHealthFall     = 3
	DefaultHealthStatus   = "200-399"
)

// Equal reports whether two services are the same in every field.
func (s Service) Equal(o Service) bool {
	return reflect.DeepEqual(s, o)
}

// ServiceSpec is what a client writes for a service: every field but
// Mountpoints is optional and takes its default when absent.
type ServiceSpec struct {
	Name        string   `json:"name,omitempty"` // optional; must equal the name in the path
	Mountpoints []string `json:"mountpoints"`
	Healthcheck string   `json:"healthcheck,omitempty"`
	HTTPSOnly   bool     `json:"https_only,omitempty"`
	Balance     string   `json:"balance,omitempty"`
	StripPrefix *bool    `json:"strip_prefix,omitempty"`
	MaxFails    *int     `json:"max_fails,omitempty"`
	FailTimeout string   `json:"fail_timeout,omitempty"` // Go duration, e.g. "10s"

	HealthInterval string `json:"health_interval,omitempty"` // default 3s
	HealthTimeout  string `json:"health_timeout,omitempty"`  // default 1s
	HealthRise     *int   `json:"health_rise,omitempty"`     // default 2
	HealthFall     *int   `json:"health_fall,omitempty"`     // default 3
	HealthStatus   string `json:"health_status,omitempty"`   // default "200-399"

	ResponseHeaders map[string]string `json:"response_headers,omitempty"`
	SecurityHeaders *bool             `json:"security_headers,omitempty"` // default true
	BackendProtocol string            `json:"backend_protocol,omitempty"` // default "http"
	Passthrough     bool              `json:"passthrough,omitempty"`
	TCPPorts        []int             `json:"tcp_ports,omitempty"`
	ProxyProtocol   string            `json:"proxy_protocol,omitempty"`
	IdleTimeout     string            `json:"idle_timeout,omitempty"` // default 10m, with tls:// or tcp:// mountpoints
}

// NewService validates spec, applies defaults and returns the service in
// canonical form, or a *FieldError naming the first thing that is wrong.
func NewService(name string, spec ServiceSpec) (Service, error) {
	if err := CheckName("name", name); err != nil {
		return Service{}, err
	}
	if spec.Name != "" && spec.Name != name {
		return Service{}, fieldErr("name", "%q does not match the service name %q in the path", spec.Name, name)
	}
	s := Service{
		Name:        name,
		Healthcheck: spec.Healthcheck,
		HTTPSOnly:   spec.HTTPSOnly,
		Balance:     spec.Balance,
		StripPrefix: true,
		MaxFails:    DefaultMaxFails,
		FailTimeout: Duration(DefaultFailTimeout),
	}
	if spec.StripPrefix != nil {
		s.StripPrefix = *spec.StripPrefix
	}
	if spec.MaxFails != nil {
		s.MaxFails = *spec.MaxFails
	}
	if spec.FailTimeout != "" {
		d, err := time.ParseDuration(spec.FailTimeout)
		if err != nil {
			return Service{}, fieldErr("fail_timeout", "%q is not a duration; want e.g. \"10s\"", spec.FailTimeout)
		}
		s.FailTimeout = Duration(d)
	}
	if s.Balance == "" {
		s.Balance = RoundRobin
	}
	if err := s.healthFromSpec(spec); err != nil {
		return Service{}, err
	}
	if len(spec.Mountpoints) == 0 && len(spec.TCPPorts) == 0 {
		return Service{}, fieldErr("mountpoints", "required: give at least one, e.g. [\"demo.lain.local\"]")
	}
	seen := make(map[string]bool, len(spec.Mountpoints))
	for i, raw := range spec.Mountpoints {
		m, err := ParseMountpoint(fmt.Sprintf("mountpoints[%d]", i), raw)
		if err != nil {
			return Service{}, err
		}
		if c := m.String(); !seen[c] {
			seen[c] = true
			s.Mountpoints = append(s.Mountpoints, c)
		}
	}
	if err := s.httpFromSpec(spec); err != nil {
		return Service{}, err
	}
	if err := s.connFromSpec(spec); err != nil {
		return Service{}, err
	}
	if err := s.check(); err != nil {
		return Service{}, err
	}
	return s, nil
}

// check validates the option fields of an already-built service.
func (s Service) check() error {
	if hc := s.Healthcheck; hc != "" && hc != "tcp" {
		if !strings.HasPrefix(hc, "/") {
			return fieldErr("healthcheck", "%q: want an HTTP path starting with '/' (e.g. \"/ping\") or \"tcp\"", hc)
		}
		for i := 0; i < len(hc); i++ {
			if c := hc[i]; c <= ' ' || c >= 0x7f || c == '#' {
				return fieldErr("healthcheck", "%q: contains a space, control, non-ASCII or '#' character", hc)
			}
		}
	}
	valid := false
	for _, p := range Policies {
		valid = valid || s.Balance == p
	}
	if !valid {
		return fieldErr("balance", "%q is not a policy; want one of %s", s.Balance, strings.Join(Policies, ", "))
	}
	if s.MaxFails < 0 || s.MaxFails > 1000 {
		return fieldErr("max_fails", "%d is outside 0–1000 (0 turns passive health off)", s.MaxFails)
	}
	if d := time.Duration(s.FailTimeout); d < time.Second || d > time.Hour {
		return fieldErr("fail_timeout", "%s is outside 1s–1h", d)
	}
	return nil
}

// ParseService decodes a stored service (the JSON of a Service) and checks
// it as NewService would. Registry backends use it for entries they read.
func ParseService(data []byte) (Service, error) {
	var s Service
	if err := json.Unmarshal(data, &s); err != nil {
		return Service{}, fmt.Errorf("decode service: %w", err)
	}
	spec := ServiceSpec{
		Mountpoints: s.Mountpoints, Healthcheck: s.Healthcheck, HTTPSOnly: s.HTTPSOnly,
		Balance: s.Balance, StripPrefix: &s.StripPrefix, MaxFails: &s.MaxFails, FailTimeout: s.FailTimeout.String(),
		HealthStatus:    s.HealthStatus,
		ResponseHeaders: s.ResponseHeaders, SecurityHeaders: &s.SecurityHeaders, BackendProtocol: s.BackendProtocol,
		Passthrough: s.Passthrough, TCPPorts: s.TCPPorts, ProxyProtocol: s.ProxyProtocol,
	}
	if s.IdleTimeout != 0 {
		spec.IdleTimeout = s.IdleTimeout.String()
	}
	if s.Healthcheck != "" {
		spec.HealthInterval, spec.HealthTimeout = s.HealthInterval.String(), s.HealthTimeout.String()
		spec.HealthRise, spec.HealthFall = &s.HealthRise, &s.HealthFall
	}
	return NewService(s.Name, spec)
}

// MountpointsParsed returns the service's mountpoints in parsed form, of
// every scheme (see Mountpoint.HTTP). The service must be valid.
func (s Service) MountpointsParsed() []Mountpoint {
	out := make([]Mountpoint, 0, len(s.Mountpoints))
	for _, raw := range s.Mountpoints {
		if m, err := ParseMountpoint("", raw); err == nil {
			out = append(out, m)
		}
	}
	return out
}

// CheckName validates a service name: 1–253 characters, lower-case letters,
// digits, '.', '_' and '-', starting with a letter or digit.
func CheckName(field, name string) error {
	return checkIdent(field, name, "")
}

// checkIdent validates a name made of [a-z0-9._-] plus the bytes in extra.
func checkIdent(field, name, extra string) error {
	allowed := "lower-case letters, digits, '.', '_' and '-'"
	if extra != "" {
		allowed = "lower-case letters, digits, '.', '_', '-' and '" + extra + "'"
	}
	if name == "" {
		return fieldErr(field, "empty; want %s", allowed)
	}
	if len(name) > 253 {
		return fieldErr(field, "longer than 253 characters")
	}
	if c := name[0]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
		return fieldErr(field, "%q must start with a lower-case letter or a digit", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || strings.IndexByte(extra, c) >= 0) {
			return fieldErr(field, "%q has %q; want %s", name, string(rune(c)), allowed)
		}
	}
	return nil
}

// Duration is a time.Duration written in JSON as a Go duration string
// ("10s", "1m30s").
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"10s\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration string such as \"10s\", got %q", s)
	}
	*d = Duration(v)
	return nil
}

// String formats like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }
