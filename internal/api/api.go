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
