package cli

import (
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/webrouter/webrouter/internal/api"
	"github.com/webrouter/webrouter/internal/catalog"
)

// streamOpts are the `service put` flags of the TLS, HTTP/2 and TCP
// options.
type streamOpts struct {
	tcpPorts        []int
	passthrough     bool
	proxyProtocol   string
	idleTimeout     time.Duration
	backendProtocol string
	securityHeaders bool
	responseHeaders []string // NAME=VALUE; NAME= removes the header
}

func (o *streamOpts) flags(fs *pflag.FlagSet) {
	fs.IntSliceVar(&o.tcpPorts, "tcp-port", nil, "TCP `port` the router listens on for this service (like a tcp://:port mountpoint); repeat for more")
	fs.BoolVar(&o.passthrough, "passthrough", false, "pass TLS for the host mountpoints straight through to the instances (like tls://host)")
	fs.StringVar(&o.proxyProtocol, "proxy-protocol", "", "send a PROXY protocol header (v1 or v2) to the instances of TCP and passthrough connections")
	fs.DurationVar(&o.idleTimeout, "idle-timeout", catalog.DefaultIdleTimeout, "close TCP and passthrough connections idle this long")
	fs.StringVar(&o.backendProtocol, "backend-protocol", catalog.BackendHTTP, "protocol to the instances: http, or h2c (HTTP/2 cleartext, e.g. gRPC)")
	fs.BoolVar(&o.securityHeaders, "security-headers", true, "add HSTS, X-Frame-Options and X-Content-Type-Options to HTTPS responses")
	fs.StringArrayVar(&o.responseHeaders, "response-header", nil, "`NAME=VALUE` set on every response (NAME= removes the header); repeat for more")
}

// apply adds the options whose flags were given to spec.
func (o *streamOpts) apply(fs *pflag.FlagSet, spec *catalog.ServiceSpec) error {
	if fs.Changed("tcp-port") {
		spec.TCPPorts = o.tcpPorts
	}
	spec.Passthrough = o.passthrough
	spec.ProxyProtocol = o.proxyProtocol
	if fs.Changed("idle-timeout") {
		spec.IdleTimeout = o.idleTimeout.String()
	}
	if fs.Changed("backend-protocol") {
		spec.BackendProtocol = o.backendProtocol
	}
	if fs.Changed("security-headers") {
		spec.SecurityHeaders = &o.securityHeaders
	}
	for _, h := range o.responseHeaders {
		name, value, ok := strings.Cut(h, "=")
		if !ok || name == "" {
			return usagef("--response-header %q: want NAME=VALUE, or NAME= to remove the header", h)
		}
		if spec.ResponseHeaders == nil {
			spec.ResponseHeaders = map[string]string{}
		}
		spec.ResponseHeaders[name] = value
	}
	return nil
}

// streamRows adds the TLS, HTTP/2 and TCP options that differ from their
// defaults to a service's description.
func streamRows(t *table, s catalog.Service) {
	if s.BackendProtocol != "" && s.BackendProtocol != catalog.BackendHTTP {
		t.row("backend_protocol:", s.BackendProtocol)
	}
	if !s.SecurityHeaders {
		t.row("security_headers:", "false")
	}
	for _, name := range sortedKeys(s.ResponseHeaders) {
		t.row("response_header:", name+": "+s.ResponseHeaders[name])
	}
	if len(s.TCPPorts) > 0 {
		ports := make([]string, len(s.TCPPorts))
		for i, p := range s.TCPPorts {
			ports[i] = strconv.Itoa(p)
		}
		t.row("tcp_ports:", strings.Join(ports, ", "))
	}
	if s.ProxyProtocol != "" {
		t.row("proxy_protocol:", s.ProxyProtocol)
	}
	if s.IdleTimeout != 0 {
		t.row("idle_timeout:", s.IdleTimeout.String())
	}
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}

// writeStreamRoutes writes the passthrough routes and the TCP ports of the
// live table, when there are any.
func writeStreamRoutes(w io.Writer, r api.Routes) error {
	if len(r.Passthrough) == 0 && len(r.TCP) == 0 {
		return nil
	}
	t := &table{}
	t.row("")
	t.row("LISTENER", "SERVICE", "STATE", "INSTANCES")
	for _, p := range r.Passthrough {
		t.row("tls://"+p.Host, p.Service, "passthrough", strconv.Itoa(len(p.Instances)))
	}
	for _, p := range r.TCP {
		state := "listening"
		if !p.Listening {
			state = "not listening: " + p.Error
		}
		t.row("tcp://:"+strconv.Itoa(p.Port), p.Service, state, strconv.Itoa(len(p.Instances)))
	}
	return t.write(w)
}
