package catalog

import (
	"strings"
)

// MaxPathLen bounds the path part of a mountpoint.
const MaxPathLen = 1024

// Mountpoint is where a service is reached: a host, exact or wildcard, and
// an optional path prefix.
//
// The canonical text form is "host" or "host/path": host in lower case,
// no port, no trailing dot; path without a trailing slash ("/" alone means
// no path). A wildcard host "*.demo.com" matches any name that ends in
// ".demo.com", at any depth, as in nginx.
type Mountpoint struct {
	Host     string // lower case; for a wildcard, the part after "*." ("demo.com")
	Wildcard bool   // true for "*.demo.com"
	Path     string // "" or "/seg[/seg…]", no trailing slash
}

// String returns the canonical text form.
func (m Mountpoint) String() string {
	h := m.Host
	if m.Wildcard {
		h = "*." + h
	}
	return h + m.Path
}

// ParseMountpoint parses and canonicalises one mountpoint. field names the
// input in the error (e.g. "mountpoints[0]").
func ParseMountpoint(field, s string) (Mountpoint, error) {
	if s == "" {
		return Mountpoint{}, fieldErr(field, "empty mountpoint; want a host such as \"demo.lain.local\", \"*.demo.com\" or \"demo.com/path\"")
	}
	if i := strings.Index(s, "://"); i >= 0 {
		return Mountpoint{}, fieldErr(field, "%q: scheme %q is not supported; give a host with an optional path, e.g. \"demo.com/api\"", s, s[:i])
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
	var m Mountpoint
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
	p, err := cleanMountPath(path)
	if err != "" {
		return Mountpoint{}, fieldErr(field, "%q: path %s", s, err)
	}
	m.Path = p
	return m, nil
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
