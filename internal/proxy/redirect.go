package proxy

import (
	"net"
	"net/http"
	"strings"

	"github.com/webrouter/webrouter/internal/route"
)

// Security headers added to HTTPS responses of services with
// security_headers on (the default), unless the backend set them itself.
var securityHeaders = []route.Header{
	{Name: "Strict-Transport-Security", Value: "max-age=31536000"},
	{Name: "X-Frame-Options", Value: "SAMEORIGIN"},
	{Name: "X-Content-Type-Options", Value: "nosniff"},
}

// redirectHTTPS answers a plain-HTTP request for an https_only service with
// a redirect to the same host, path and query on the HTTPS entry point:
// 301 for GET and HEAD, 308 (which keeps the method and body) otherwise.
func (p *Proxy) redirectHTTPS(x *exchange, r *http.Request) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
		if strings.Contains(h, ":") {
			host = "[" + h + "]"
		}
	}
	if p.httpsPort != "" && p.httpsPort != "443" {
		host += ":" + p.httpsPort
	}
	uri := r.RequestURI
	if !strings.HasPrefix(uri, "/") { // absolute-form or "*": use the parsed path and query
		uri = r.URL.RequestURI()
	}
	code := http.StatusPermanentRedirect
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		code = http.StatusMovedPermanently
	}
	h := x.rw.Header()
	h.Set("Location", "https://"+host+uri)
	h.Set("X-Request-Id", x.id())
	h.Set("Content-Type", "text/plain; charset=utf-8")
	x.rw.WriteHeader(code)
	if r.Method != http.MethodHead {
		_, _ = x.rw.Write([]byte(http.StatusText(code) + ": this service is served over HTTPS only\n"))
	}
}

// decorates reports whether decorate changes anything for svc: it sets
// or drops response headers of its own, or adds security headers (on
// HTTPS).
func decorates(svc *route.Service, https bool) bool {
	return len(svc.ResponseHeaders) > 0 || https && svc.SecurityHeaders
}

// decorate applies a service's response headers to h, and on HTTPS its
// security headers where the backend has not set them.
func decorate(h http.Header, svc *route.Service, https bool) {
	if https && svc.SecurityHeaders {
		for _, sh := range securityHeaders {
			if _, set := h[sh.Name]; !set {
				h[sh.Name] = []string{sh.Value}
			}
		}
	}
	for _, rh := range svc.ResponseHeaders {
		if rh.Value == "" {
			delete(h, rh.Name)
		} else {
			h[rh.Name] = []string{rh.Value}
		}
	}
}
