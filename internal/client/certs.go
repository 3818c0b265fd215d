package client

import (
	"context"
	"net/http"

	"github.com/webrouter/webrouter/internal/api"
	"github.com/webrouter/webrouter/internal/catalog"
)

// PutCertificate creates or replaces certificate name
// (PUT /v1/certificates/{name}); the answer describes it, without the key.
func (c *Client) PutCertificate(ctx context.Context, name string, spec catalog.CertificateSpec) (api.Certificate, error) {
	var out api.Certificate
	err := c.do(ctx, http.MethodPut, spec, &out, "v1", "certificates", name)
	return out, err
}

// Certificates lists the certificates (GET /v1/certificates).
func (c *Client) Certificates(ctx context.Context) (api.CertificateList, error) {
	var out api.CertificateList
	err := c.do(ctx, http.MethodGet, nil, &out, "v1", "certificates")
	return out, err
}

// Certificate describes certificate name (GET /v1/certificates/{name}).
func (c *Client) Certificate(ctx context.Context, name string) (api.Certificate, error) {
	var out api.Certificate
	err := c.do(ctx, http.MethodGet, nil, &out, "v1", "certificates", name)
	return out, err
}

// DeleteCertificate removes certificate name (DELETE /v1/certificates/{name}).
func (c *Client) DeleteCertificate(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, nil, nil, "v1", "certificates", name)
}
