// Package api defines the JSON documents of webrouter's admin API, shared by
// the admin server, the Go client, the CLI and the Docker agent.
//
// Paths (admin listener):
//
//	PUT    /v1/services/{name}                  body catalog.ServiceSpec → Service
//	GET    /v1/services                         → ServiceList
//	GET    /v1/services/{name}                  → Service
//	DELETE /v1/services/{name}                  → 204 (its instances go too)
//	PUT    /v1/services/{name}/instances/{id}   body catalog.InstanceSpec → Instance
//	GET    /v1/services/{name}/instances/{id}   → Instance
//	DELETE /v1/services/{name}/instances/{id}   → 204
//	PUT    /v1/services/{name}/instances/{id}/heartbeat → 204 (lease renewed), 404 gone: register again
//	PUT    /v1/certificates/{name}              body catalog.CertificateSpec → Certificate
//	GET    /v1/certificates                     → CertificateList
//	GET    /v1/certificates/{name}              → Certificate (never the key)
//	DELETE /v1/certificates/{name}              → 204
//	GET    /v1/routes                           → Routes
//	GET    /v1/status                           → Status
//	GET    /healthz                             → 200 "ok" while serving
//	GET    /metrics                             → Prometheus text format
//
// Errors are an Error document with a 4xx or 5xx status: 400 bad input,
// 401 missing or wrong token, 404 no such service or instance, 409 a
// mountpoint another service owns, 503 registry unavailable.
package api

import (
	"time"

	"github.com/webrouter/webrouter/internal/catalog"
)

// Error is the body of every error response.
type Error struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"` // the request field that was wrong, for 400s about one field
}

// Service is a service with its instances.
type Service struct {
	catalog.Service
	Instances []Instance `json:"instances"`
}

// ServiceList is the answer to GET /v1/services.
type ServiceList struct {
	Revision uint64    `json:"revision"`
	Services []Service `json:"services"`
}

// Instance is an instance with its runtime state at this router.
type Instance struct {
	catalog.Instance
	Health    string    `json:"health,omitempty"`    // "up", "down (passive)", "down (active)"; empty when not routed
	InFlight  int64     `json:"in_flight"`           // this instance's requests and open connections (WebSockets) under way
	Requests  uint64    `json:"requests,omitempty"`  // requests started since the router began
	Fails     int       `json:"fails,omitempty"`     // passive failures in the current window
	DownUntil time.Time `json:"down_until,omitzero"` // while passively down
}

// Routes is the live routing table as the proxy sees it.
type Routes struct {
	Generation uint64   `json:"generation"` // table generation, +1 per swap
	Revision   uint64   `json:"revision"`   // registry revision it was compiled from
	Routes     []Route  `json:"routes"`     // sorted by host, then longest path first
	Problems   []string `json:"problems,omitempty"`

	Passthrough []Route `json:"passthrough,omitempty"` // tls:// mountpoints: Host is the server name, Path "/"
	TCP         []Port  `json:"tcp,omitempty"`         // tcp:// ports, sorted, with the state of their listeners
}

// Port is one TCP port of the table and its listener.
type Port struct {
	Port      int        `json:"port"`
	Service   string     `json:"service"`
	Listening bool       `json:"listening"`
	Error     string     `json:"error,omitempty"` // why it is not listening; retried
	Since     time.Time  `json:"since"`           // when it last changed state
	Instances []Instance `json:"instances"`
}

// Certificate describes a TLS certificate. The private key is never part
// of any answer.
type Certificate struct {
	Name        string    `json:"name"`
	Source      string    `json:"source"`             // "registry" (PUT /v1/certificates) or "dir" (--cert-dir)
	Domains     []string  `json:"domains"`            // the server names it serves
	Override    bool      `json:"override,omitempty"` // domains were given explicitly instead of the SANs
	SANs        []string  `json:"sans"`               // the DNS names in the certificate
	Subject     string    `json:"subject"`
	Issuer      string    `json:"issuer"`
	NotBefore   time.Time `json:"not_before"`
	NotAfter    time.Time `json:"not_after"`
	ExpiresSoon bool      `json:"expires_soon"`      // within 14 days, or expired
	Default     bool      `json:"default,omitempty"` // served when no name matches (--default-cert)
}

// CertificateList is the answer to GET /v1/certificates.
type CertificateList struct {
	Revision     uint64        `json:"revision"`
	Certificates []Certificate `json:"certificates"` // the registry's, then the cert dir's, by name
}

// Route is one host+path of the table.
type Route struct {
	Host        string     `json:"host"` // "demo.com" or "*.demo.com"
	Path        string     `json:"path"` // "/" for the whole host
	Service     string     `json:"service"`
	Balance     string     `json:"balance"`
	StripPrefix bool       `json:"strip_prefix"`
	HTTPSOnly   bool       `json:"https_only,omitempty"`
	Instances   []Instance `json:"instances"`
}

// InstanceState is the body of PUT /v1/services/{name}/instances/{id}/state.
type InstanceState struct {
	State catalog.InstanceState `json:"state"`
}

// Upgrade is the answer to a successful POST /v1/upgrade.
type Upgrade struct {
	OldPID  int    `json:"old_pid"` // the process that answered, now draining
	Message string `json:"message"`
}

// Status is the router's own state.
type Status struct {
	Version    string    `json:"version"`
	PID        int       `json:"pid"`              // the serving process (changes with each upgrade)
	Registry   string    `json:"registry"`         // "embedded", "etcd", …
	State      string    `json:"state"`            // "ok" or "degraded"
	Reason     string    `json:"reason,omitempty"` // why degraded
	Generation uint64    `json:"generation"`
	Revision   uint64    `json:"revision"`
	Services   int       `json:"services"`
	Instances  int       `json:"instances"`
	Addresses  int       `json:"addresses"` // distinct backend addresses in use
	Started    time.Time `json:"started"`
}
