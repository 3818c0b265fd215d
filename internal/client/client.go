// Package client is the Go client of webrouter's admin API (see package api
// for the paths and documents). The CLI and the Docker agent use it.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/webrouter/webrouter/internal/api"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// DefaultTimeout bounds one request when New is given no *http.Client.
const DefaultTimeout = 30 * time.Second

// maxErrorBody caps how much of an error response is read.
const maxErrorBody = 64 << 10

// Client talks to one admin API. It is safe for concurrent use.
type Client struct {
	base  string // scheme://host[:port][/prefix], no trailing slash
	token string
	hc    *http.Client
}

// APIError is a non-2xx answer from the admin API.
type APIError struct {
	Status  int    // HTTP status code
	Message string // the server's {"error": …} text, or the body text
	Field   string // the request field that was wrong, when the server named one
}

// Error implements error.
func (e *APIError) Error() string {
	return fmt.Sprintf("admin API: %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// New returns a client for the admin API at admin, which is "host:port",
// ":port" (meaning 127.0.0.1:port) or an http:// or https:// URL, possibly
// with a path prefix. A non-empty token is sent as "Authorization: Bearer
// token". A nil hc means an *http.Client with DefaultTimeout.
func New(admin, token string, hc *http.Client) (*Client, error) {
	base, err := baseURL(admin)
	if err != nil {
		return nil, err
	}
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout}
	}
	return &Client{base: base, token: token, hc: hc}, nil
}

// Base returns the URL the client sends its requests under.
func (c *Client) Base() string { return c.base }

// baseURL turns an admin address into a URL without a trailing slash.
func baseURL(admin string) (string, error) {
	bad := func(why string) error {
		return fmt.Errorf("admin address %q: %s; want host:port, :port or an http(s):// URL", admin, why)
	}
	admin = strings.TrimSpace(admin)
	if admin == "" {
		return "", bad("empty")
	}
	if strings.Contains(admin, "://") {
		u, err := url.Parse(admin)
		if err != nil {
			return "", bad(err.Error())
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return "", bad("scheme " + u.Scheme + " is not http or https")
		}
		if u.Host == "" {
			return "", bad("no host")
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return "", bad("has a query or fragment")
		}
		return strings.TrimSuffix(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"), nil
	}
	host, port, err := net.SplitHostPort(admin)
	if err != nil {
		return "", bad("no port")
	}
	if port == "" {
		return "", bad("empty port")
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

// path joins escaped segments under the base URL, refusing empty ones: an
// empty name would address a different resource.
func (c *Client) path(segments ...string) (string, error) {
	var b strings.Builder
	b.WriteString(c.base)
	for i, s := range segments {
		if s == "" {
			return "", fmt.Errorf("empty path segment after %q", strings.Join(segments[:i], "/"))
		}
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String(), nil
}

// do sends one request. A non-nil in is sent as JSON; a non-nil out receives
// the decoded 2xx answer. A non-2xx answer is an *APIError.
func (c *Client) do(ctx context.Context, method string, in, out any, segments ...string) error {
	target, err := c.path(segments...)
	if err != nil {
		return err
	}
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return c.transportError(method, target, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return decodeError(resp)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode answer to %s %s: %w", method, target, err)
	}
	return nil
}

// transportError says which admin address was tried and, when nothing
// answered there, where the address comes from.
func (c *Client) transportError(method, target string, err error) error {
	var dnsErr *net.DNSError
	if !errors.Is(err, syscall.ECONNREFUSED) && !errors.As(err, &dnsErr) {
		return fmt.Errorf("%s %s: %w", method, target, err)
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = urlErr.Err // the dial error already says enough
	}
	return fmt.Errorf("no admin API at %s: %w (is `webrouter serve` running there? check --admin or WEBROUTER_ADMIN)", c.base, err)
}

// decodeError turns a non-2xx response into an *APIError, preferring the
// server's {"error": …} message and falling back to the body text.
func decodeError(resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &APIError{Status: resp.StatusCode}
	var doc api.Error
	if json.Unmarshal(data, &doc) == nil && doc.Error != "" {
		e.Field = doc.Field
		e.Message = doc.Error
	} else {
		e.Message = strings.TrimSpace(string(data))
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	return e
}
