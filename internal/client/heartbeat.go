package client

import (
	"context"
	"net/http"
)

// Heartbeat renews the lease of instance id of service
// (PUT /v1/services/{name}/instances/{id}/heartbeat). An *APIError with
// Status 404 means the instance is gone (its lease expired): register it
// again with PutInstance. 503 means the registry cannot take writes now.
func (c *Client) Heartbeat(ctx context.Context, service, id string) error {
	return c.do(ctx, http.MethodPut, nil, nil, "v1", "services", service, "instances", id, "heartbeat")
}
