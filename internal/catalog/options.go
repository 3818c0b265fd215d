package catalog

import (
	"fmt"
	"net/textproto"
	"slices"
	"strings"
	"time"
)

// Backend protocols a service may name.
const (
	BackendHTTP = "http" // HTTP/1.1 to the instances (default)
	BackendH2C  = "h2c"  // HTTP/2 over cleartext (prior knowledge), e.g. gRPC servers
)

// PROXY protocol versions a service may ask for towards its instances.
const (
	ProxyV1 = "v1" // the text header
	ProxyV2 = "v2" // the binary header
)

// DefaultIdleTimeout closes TCP and passthrough connections on which no
// byte moved in either direction for this long.
const DefaultIdleTimeout = 10 * time.Minute

// MaxResponseHeaders bounds a service's response_headers.
const MaxResponseHeaders = 50

// hopHeaders are headers a service may not set on responses: they describe
// one connection, not the response, and the server manages them.
var hopHeaders = []string{"Connection", "Content-Length", "Keep-Alive", "Proxy-Connection", "Te",
	"Trailer", "Transfer-Encoding", "Upgrade"}

// httpFromSpec validates and fills the HTTP options: response_headers,
// security_headers (default on) and backend_protocol (default "http").
func (s *Service) httpFromSpec(spec ServiceSpec) error {
	s.SecurityHeaders = spec.SecurityHeaders == nil || *spec.SecurityHeaders
	s.BackendProtocol = spec.BackendProtocol
	switch s.BackendProtocol {
	case "":
		s.BackendProtocol = BackendHTTP
	case BackendHTTP, BackendH2C:
	default:
		return fieldErr("backend_protocol", "%q: want %q (HTTP/1.1, the default) or %q (HTTP/2 over cleartext, e.g. gRPC)", spec.BackendProtocol, BackendHTTP, BackendH2C)
	}
	if len(spec.ResponseHeaders) > MaxResponseHeaders {
		return fieldErr("response_headers", "%d headers; at most %d", len(spec.ResponseHeaders), MaxResponseHeaders)
	}
	for name, value := range spec.ResponseHeaders {
		field := "response_headers[" + name + "]"
		if !validHeaderName(name) {
			return fieldErr(field, "%q is not a header name: want letters, digits and !#$%%&'*+-.^_`|~", name)
		}
		canon := textproto.CanonicalMIMEHeaderKey(name)
		if slices.Contains(hopHeaders, canon) {
			return fieldErr(field, "%s describes the connection, not the response; the router manages it", canon)
		}
		if strings.ContainsAny(value, "\r\n\x00") {
			return fieldErr(field, "the value contains a line break or NUL")
		}
		if s.ResponseHeaders == nil {
			s.ResponseHeaders = make(map[string]string, len(spec.ResponseHeaders))
		}
		if _, dup := s.ResponseHeaders[canon]; dup {
			return fieldErr(field, "%s is given twice (header names are case-insensitive)", canon)
		}
		s.ResponseHeaders[canon] = value
	}
	return nil
}

func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// connFromSpec validates and fills the connection options. With
// passthrough, host mountpoints become "tls://host"; tcp_ports and
// "tcp://:port" mountpoints are merged so that each port appears in both
// (the mountpoint is what claims the port against other services). A
// service with no HTTP mountpoint balances least_conn unless told
// otherwise, and connection services get an idle timeout.
func (s *Service) connFromSpec(spec ServiceSpec) error {
	s.Passthrough = spec.Passthrough
	var mps []string
	ports := map[int]bool{}
	httpCount, connCount := 0, 0
	for i, raw := range s.Mountpoints {
		m, err := ParseMountpoint("", raw)
		if err != nil {
			return err
		}
		if m.HTTP() && s.Passthrough {
			if m.Path != "" {
				return fieldErr(fmt.Sprintf("mountpoints[%d]", i), "%q: with passthrough the mountpoints are server names; TLS is not terminated, so there is no path to route on", raw)
			}
			m.Scheme = SchemeTLS
		}
		switch m.Scheme {
		case "":
			httpCount++
		case SchemeTCP:
			ports[m.Port] = true
			connCount++
		default:
			connCount++
		}
		if c := m.String(); !slices.Contains(mps, c) {
			mps = append(mps, c)
		}
	}
	for i, p := range spec.TCPPorts {
		if p < 1 || p > 65535 {
			return fieldErr(fmt.Sprintf("tcp_ports[%d]", i), "%d is outside 1–65535", p)
		}
		if !ports[p] {
			ports[p] = true
			mps = append(mps, Mountpoint{Scheme: SchemeTCP, Port: p}.String())
		}
		connCount++
	}
	s.Mountpoints = mps
	s.TCPPorts = nil
	for p := range ports {
		s.TCPPorts = append(s.TCPPorts, p)
	}
	slices.Sort(s.TCPPorts)
	if spec.Balance == "" && httpCount == 0 {
		s.Balance = LeastConn
	}
	conn := connCount > 0
	switch spec.ProxyProtocol {
	case "", ProxyV1, ProxyV2:
		if spec.ProxyProtocol != "" && !conn {
			return fieldErr("proxy_protocol", "applies to tcp:// and tls:// mountpoints (or tcp_ports, passthrough); this service has none")
		}
		s.ProxyProtocol = spec.ProxyProtocol
	default:
		return fieldErr("proxy_protocol", "%q: want %q or %q (or leave it out for none)", spec.ProxyProtocol, ProxyV1, ProxyV2)
	}
	s.IdleTimeout = 0
	if spec.IdleTimeout != "" {
		if !conn {
			return fieldErr("idle_timeout", "applies to tcp:// and tls:// mountpoints (or tcp_ports, passthrough); this service has none")
		}
		d, err := time.ParseDuration(spec.IdleTimeout)
		if err != nil {
			return fieldErr("idle_timeout", "%q is not a duration; want e.g. \"10m\"", spec.IdleTimeout)
		}
		if d < time.Second || d > 24*time.Hour {
			return fieldErr("idle_timeout", "%s is outside 1s–24h", d)
		}
		s.IdleTimeout = Duration(d)
	} else if conn {
		s.IdleTimeout = Duration(DefaultIdleTimeout)
	}
	return nil
}
