package catalog

import (
	"strconv"
	"strings"
)

// MaxPathLen bounds the path part of a mountpoint.
const MaxPathLen = 1024

// Mountpoint schemes. An HTTP mountpoint has none.
const (
	SchemeTLS = "tls" // "tls://host": TLS passthrough by SNI on the HTTPS entry point
	SchemeTCP = "tcp" // "tcp://:port": a TCP listener on that port
)

// Mountpoint is where a service is reached: a host, exact or wildcard, and
// an optional path prefix (HTTP); a server name for TLS passthrough
// ("tls://host"); or a TCP port ("tcp://:port").
//
// The canonical text form is "host" or "host/path": host in lower case,
// no port, no trailing dot; path without a trailing slash ("/" alone means
// no path). A wildcard host "*.demo.com" matches any name that ends in
// ".demo.com", at any depth, as in nginx. Passthrough mountpoints are
// "tls://" and a host (exact or wildcard, no path); TCP mountpoints are
// "tcp://:" and a port in 1–65535.
type Mountpoint struct {
	Scheme   string // "" (HTTP), SchemeTLS or SchemeTCP
	Host     string // lower case; for a wildcard, the part after "*." ("demo.com"); "" for TCP
	Wildcard bool   // true for "*.demo.com"
	Path     string // "" or "/seg[/seg…]", no trailing slash; HTTP only
	Port     int    // TCP only
}

// String returns the canonical text form.
func (m Mountpoint) String() string {
	if m.Scheme == SchemeTCP {
		return "tcp://:" + strconv.Itoa(m.Port)
	}
	h := m.Host
	if m.Wildcard {
		h = "*." + h
	}
	if m.Scheme == SchemeTLS {
		return "tls://" + h
	}
	return h + m.Path
}

// HTTP reports whether the mountpoint routes HTTP requests (no scheme).
func (m Mountpoint) HTTP() bool { return m.Scheme == "" }

// ParseMountpoint parses and canonicalises one mountpoint. field names the
// input in the error (e.g. "mountpoints[0]").
func ParseMountpoint(field, s string) (Mountpoint, error) {
	if s == "" {
		return Mountpoint{}, fieldErr(field, "empty mountpoint; want a host such as \"demo.lain.local\", \"*.demo.com\" or \"demo.com/path\"")
	}
	scheme := ""
	if i := strings.Index(s, "://"); i >= 0 {
		scheme = s[:i]
		switch scheme {
		case SchemeTCP:
			return parseTCPMountpoint(field, s)
		case SchemeTLS:
			s = s[i+3:]
		default:
			return Mountpoint{}, fieldErr(field, "%q: scheme %q is not supported; give a host with an optional path (\"demo.com/api\"), \"tls://host\" for TLS passthrough or \"tcp://:port\" for a TCP service", s, scheme)
		}
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f {
			return Mountpoint{}, fieldErr(field, "%q: contains a space, control or non-ASCII character (use punycode for international names)", s)
		}
	}
	host, path := s, ""
	if i := strings.IndexByte(s, '/'); i >= 0 {
		host, path = s[:i], s[i:]
	}
	m := Mountpoint{Scheme: scheme}
	host = strings.ToLower(host)
	if strings.HasPrefix(host, "*.") {
		m.Wildcard = true
		host = host[2:]
	}
	if strings.Contains(host, ":") {
		return Mountpoint{}, fieldErr(field, "%q: a mountpoint must not include a port; the Host header's port is ignored when routing", s)
	}
	host = strings.TrimSuffix(host, ".")
	if err := checkHostname(host); err != "" {
		return Mountpoint{}, fieldErr(field, "%q: host %s", s, err)
	}
	m.Host = host
	if scheme == SchemeTLS && path != "" {
		return Mountpoint{}, fieldErr(field, "\"tls://%s\": a passthrough mountpoint is a server name only; TLS is not terminated, so there is no path to route on", s)
	}
	p, err := cleanMountPath(path)
	if err != "" {
		return Mountpoint{}, fieldErr(field, "%q: path %s", s, err)
	}
	m.Path = p
	return m, nil
}

// parseTCPMountpoint parses "tcp://:port".
func parseTCPMountpoint(field, s string) (Mountpoint, error) {
	rest := strings.TrimPrefix(s, "tcp://")
	port, err := strconv.Atoi(strings.TrimPrefix(rest, ":"))
	if !strings.HasPrefix(rest, ":") || err != nil || strings.HasPrefix(rest, ":+") {
		return Mountpoint{}, fieldErr(field, "%q: want \"tcp://:port\", e.g. \"tcp://:9999\" (the router listens on the port on every address it binds TCP services to)", s)
	}
	if port < 1 || port > 65535 {
		return Mountpoint{}, fieldErr(field, "%q: port %d is outside 1–65535", s, port)
	}
	return Mountpoint{Scheme: SchemeTCP, Port: port}, nil
}

// checkHostname returns "" for a valid DNS name (letters, digits, '-' and
// '_', labels of 1–63 characters, at most 253 in all) or what is wrong.
func checkHostname(h string) string {
	if h == "" {
		return "is empty"
	}
	if len(h) > 253 {
		return "is longer than 253 characters"
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" {
			return "has an empty label (\"..\" or a leading dot)"
		}
		if len(label) > 63 {
			return "has a label longer than 63 characters"
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return "has a label that starts or ends with '-'"
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				if c == '*' {
					return "may hold '*' only as a leading \"*.\""
				}
				return "may contain only letters, digits, '-', '_' and '.'"
			}
		}
	}
	return ""
}

// cleanMountPath validates a mountpoint path and returns its canonical form.
func cleanMountPath(p string) (string, string) {
	if p == "" || p == "/" {
		return "", ""
	}
	if len(p) > MaxPathLen {
		return "", "is longer than 1024 characters"
	}
	p = strings.TrimSuffix(p, "/")
	for _, seg := range strings.Split(p[1:], "/") {
		switch seg {
		case "":
			return "", "has an empty segment (\"//\")"
		case ".", "..":
			return "", "has a \".\" or \"..\" segment"
		}
		for i := 0; i < len(seg); i++ {
			if !isPathChar(seg[i]) {
				return "", "may contain only letters, digits and -._~!$&'()*+,;=:@ (no '%', '?' or '#')"
			}
		}
	}
	return p, ""
}

func isPathChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("-._~!$&'()*+,;=:@", c) >= 0
}
