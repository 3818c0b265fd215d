package proxy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// TransportOptions tune the connection pool to backends.
type TransportOptions struct {
	ConnectTimeout   time.Duration // dialling one backend address
	ResponseTimeout  time.Duration // request written → response headers
	IdleConnsPerHost int           // kept-alive connections per backend address
	IdleConnTimeout  time.Duration // how long an idle backend connection is kept
}

// NewTransport returns the one http.Transport that carries every proxied
// request: keep-alive pool per backend address, no environment proxy, no
// transparent compression (bodies pass through untouched), and dial errors
// marked so that the proxy can tell "never connected" from other failures.
func NewTransport(o TransportOptions) *http.Transport {
	d := &net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second}
	idle := o.IdleConnTimeout
	if idle == 0 {
		idle = 90 * time.Second
	}
	return &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, &dialError{err: err}
			}
			return c, nil
		},
		MaxIdleConnsPerHost:    o.IdleConnsPerHost,
		IdleConnTimeout:        idle,
		ResponseHeaderTimeout:  o.ResponseTimeout,
		ExpectContinueTimeout:  time.Second,
		DisableCompression:     true,
		MaxResponseHeaderBytes: 1 << 20,
		WriteBufferSize:        32 << 10,
		ReadBufferSize:         32 << 10,
	}
}

// dialError marks a failure to establish a backend connection: nothing was
// sent, so the request may be tried on another instance whatever its method.
type dialError struct{ err error }

func (e *dialError) Error() string   { return "connect to backend: " + e.err.Error() }
func (e *dialError) Unwrap() error   { return e.err }
func (e *dialError) Timeout() bool   { var ne net.Error; return errors.As(e.err, &ne) && ne.Timeout() }
func (e *dialError) Temporary() bool { return true }

var errNoInstance = errors.New("no usable instance")

// retrying is the RoundTripper behind the ReverseProxy: for each attempt it
// asks the service's policy for a target, sends the request there and
// records the outcome in the target's runtime state.
//
// Retries: a request that never reached a backend (connect failed) is tried
// on another instance, whatever its method; an idempotent request without a
// body that failed on a dead connection is retried once more. A request
// whose body was sent, or that timed out, is never retried.
type retrying struct {
	base   http.RoundTripper
	h2c    http.RoundTripper // for services with backend_protocol h2c; nil: base
	now    func() time.Time
	onTrip func(x *exchange, err error) // the target was marked down by err
}

func (t *retrying) RoundTrip(req *http.Request) (*http.Response, error) {
	x := exchangeFrom(req.Context())
	if x == nil {
		return nil, errors.New("proxy: request has no exchange")
	}
	if req.Body != nil && x.body == nil {
		x.body = &countingBody{rc: req.Body}
		req.Body = x.body
	}
	replayable := req.Body == nil && idempotent(req.Method)
	base := t.base
	if x.svc.H2C && t.h2c != nil {
		base = t.h2c
	}
	for {
		now := t.now()
		tgt := x.next(now)
		if tgt == nil {
			return nil, x.lastErr()
		}
		req.URL.Host = tgt.Addr
		resp, err := base.RoundTrip(req)
		x.upstreamDur = t.now().Sub(now)
		if err == nil {
			tgt.Host.Success()
			x.upStatus = resp.StatusCode
			resp.Body = wrapUpstreamBody(resp.Body, x, tgt)
			return resp, nil
		}
		if !x.failed(tgt, now, err, replayable, req.Context().Err() != nil, t.onTrip) {
			return nil, err
		}
	}
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}
