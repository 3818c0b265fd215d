package etcd

import (
	"net/url"
	"strings"
)

// keys builds and parses the keys under one prefix; see the package
// documentation for the layout.
type keys struct {
	prefix string // e.g. "/webrouter", no trailing slash
}

// all is the prefix of every key webrouter owns, with the trailing slash so
// that "/webrouter" does not also cover "/webrouter2".
func (k keys) all() string { return k.prefix + "/" }

func (k keys) service(name string) string { return k.prefix + "/services/" + name }

func (k keys) instance(service, id string) string {
	return k.prefix + "/instances/" + service + "/" + id
}

// instances is the prefix of every instance key of service.
func (k keys) instances(service string) string { return k.prefix + "/instances/" + service + "/" }

func (k keys) certificate(name string) string { return k.prefix + "/certificates/" + name }

// mountpoint is the claim key of a canonical mountpoint.
func (k keys) mountpoint(m string) string { return k.prefix + "/mountpoints/" + url.PathEscape(m) }

// health is the key the prober reads; it need not exist.
func (k keys) health() string { return k.prefix + "/health" }

// keyKind says what a key under the prefix is.
type keyKind int

const (
	kindUnknown keyKind = iota
	kindService
	kindInstance
	kindMountpoint
	kindHealth
	kindCertificate
)

// parse classifies key and returns the service name and instance id it
// names.
func (k keys) parse(key string) (kind keyKind, service, id string) {
	rest, ok := strings.CutPrefix(key, k.all())
	if !ok {
		return kindUnknown, "", ""
	}
	switch {
	case rest == "health":
		return kindHealth, "", ""
	case strings.HasPrefix(rest, "mountpoints/"):
		return kindMountpoint, "", ""
	case strings.HasPrefix(rest, "services/"):
		name := strings.TrimPrefix(rest, "services/")
		if name == "" || strings.Contains(name, "/") {
			return kindUnknown, "", ""
		}
		return kindService, name, ""
	case strings.HasPrefix(rest, "certificates/"):
		name := strings.TrimPrefix(rest, "certificates/")
		if name == "" || strings.Contains(name, "/") {
			return kindUnknown, "", ""
		}
		return kindCertificate, name, ""
	case strings.HasPrefix(rest, "instances/"):
		svc, id, ok := strings.Cut(strings.TrimPrefix(rest, "instances/"), "/")
		if !ok || svc == "" || id == "" || strings.Contains(id, "/") {
			return kindUnknown, "", ""
		}
		return kindInstance, svc, id
	}
	return kindUnknown, "", ""
}
