package proxy

import (
	"errors"
	"fmt"
	"net/http"
)

// proxyError is the ReverseProxy's ErrorHandler: it maps a failed forward
// to 502, 503 or 504.
func (p *Proxy) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	x := exchangeFrom(r.Context())
	if x == nil {
		http.Error(w, "502 Bad Gateway", http.StatusBadGateway)
		return
	}
	p.fail(x, err)
}

// fail answers a request that got no response from any backend.
func (p *Proxy) fail(x *exchange, err error) {
	x.err = err
	switch {
	case errors.Is(err, errNoInstance):
		p.respond(x, http.StatusServiceUnavailable, fmt.Sprintf("no usable instance of service %q", x.svc.Name))
	case x.cutByDrain():
		p.respond(x, http.StatusBadGateway, "the instance was removed from service and its drain timeout passed")
	case x.clientCtx.Err() != nil:
		// The client seems gone. Answer anyway — should it still be
		// there, it must not get the empty 200 a silent handler would
		// send — and log nginx's 499.
		p.respond(x, http.StatusBadGateway, "the client connection was closed")
		x.gone = true
	case x.body.readErr() != nil:
		p.respond(x, http.StatusBadRequest, "the request body could not be read: "+x.body.readErr().Error())
	case isTimeout(err):
		p.respond(x, http.StatusGatewayTimeout, "the backend did not answer in time")
	default:
		p.respond(x, http.StatusBadGateway, "the backend refused or reset the connection")
	}
}

// respond writes a short plain-text error naming the status and the
// request id.
func (p *Proxy) respond(x *exchange, status int, msg string) {
	h := x.rw.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Request-Id", x.id())
	if x.svc != nil {
		decorate(h, x.svc, x.https)
	}
	x.rw.WriteHeader(status)
	fmt.Fprintf(&x.rw, "%d %s: %s (request id %s)\n", status, http.StatusText(status), msg, x.id())
}
