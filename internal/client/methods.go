package client

import (
	"context"
	"net/http"

	"github.com/webrouter/webrouter/internal/api"
	"github.com/webrouter/webrouter/internal/catalog"
)

// PutService creates or replaces service name (PUT /v1/services/{name});
// fields absent from spec take the server's defaults.
func (c *Client) PutService(ctx context.Context, name string, spec catalog.ServiceSpec) (api.Service, error) {
	var out api.Service
	err := c.do(ctx, http.MethodPut, spec, &out, "v1", "services", name)
	return out, err
}

// Services lists every service with its instances (GET /v1/services).
func (c *Client) Services(ctx context.Context) (api.ServiceList, error) {
	var out api.ServiceList
	err := c.do(ctx, http.MethodGet, nil, &out, "v1", "services")
	return out, err
}

// Service returns service name with its instances (GET /v1/services/{name}).
func (c *Client) Service(ctx context.Context, name string) (api.Service, error) {
	var out api.Service
	err := c.do(ctx, http.MethodGet, nil, &out, "v1", "services", name)
	return out, err
}

// DeleteService removes service name and its instances
// (DELETE /v1/services/{name}).
func (c *Client) DeleteService(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, nil, nil, "v1", "services", name)
}

// PutInstance creates or replaces instance id of service
// (PUT /v1/services/{name}/instances/{id}).
func (c *Client) PutInstance(ctx context.Context, service, id string, spec catalog.InstanceSpec) (api.Instance, error) {
	var out api.Instance
	err := c.do(ctx, http.MethodPut, spec, &out, "v1", "services", service, "instances", id)
	return out, err
}

// Instance returns instance id of service with its runtime state
// (GET /v1/services/{name}/instances/{id}).
func (c *Client) Instance(ctx context.Context, service, id string) (api.Instance, error) {
	var out api.Instance
	err := c.do(ctx, http.MethodGet, nil, &out, "v1", "services", service, "instances", id)
	return out, err
}

// DeleteInstance removes instance id of service
// (DELETE /v1/services/{name}/instances/{id}).
func (c *Client) DeleteInstance(ctx context.Context, service, id string) error {
	return c.do(ctx, http.MethodDelete, nil, nil, "v1", "services", service, "instances", id)
}

// Routes returns the live routing table (GET /v1/routes).
func (c *Client) Routes(ctx context.Context) (api.Routes, error) {
	var out api.Routes
	err := c.do(ctx, http.MethodGet, nil, &out, "v1", "routes")
	return out, err
}

// Status returns the router's own state (GET /v1/status).
func (c *Client) Status(ctx context.Context) (api.Status, error) {
	var out api.Status
	err := c.do(ctx, http.MethodGet, nil, &out, "v1", "status")
	return out, err
}

// SetInstanceState changes only the administrative state of instance id of
// service (PUT /v1/services/{name}/instances/{id}/state) and returns the
// instance with what is still in flight on it.
func (c *Client) SetInstanceState(ctx context.Context, service, id string, state catalog.InstanceState) (api.Instance, error) {
	var out api.Instance
	err := c.do(ctx, http.MethodPut, api.InstanceState{State: state}, &out, "v1", "services", service, "instances", id, "state")
	return out, err
}

// Upgrade asks the router to replace itself with the binary now at its
// path (POST /v1/upgrade); it returns once the new process is ready.
func (c *Client) Upgrade(ctx context.Context) (api.Upgrade, error) {
	var out api.Upgrade
	err := c.do(ctx, http.MethodPost, nil, &out, "v1", "upgrade")
	return out, err
}
