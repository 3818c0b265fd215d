package proxy

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/testbed"
)

func TestHTTPSOnlyRedirects(t *testing.T) {
	r := newRig(t, TransportOptions{})
	r.proxy.httpsPort = "8443"
	be := backend(t, func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "backend") })
	r.service("secure", catalog.ServiceSpec{Mountpoints: []string{"secure.test"}, HTTPSOnly: true})
	r.instance("secure", "a", hostOf(be), 10)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tt := range []struct {
		method, host, target string
		port                 string
		code                 int
		loc                  string
	}{
		{"GET", "secure.test", "/a/b?x=1&y=%20z", "8443", 301, "https://secure.test:8443/a/b?x=1&y=%20z"},
		{"HEAD", "Secure.test:8080", "/", "8443", 301, "https://Secure.test:8443/"},
		{"POST", "secure.test", "/form?q", "8443", 308, "https://secure.test:8443/form?q"},
		{"PUT", "secure.test", "/x", "443", 308, "https://secure.test/x"},
		{"GET", "secure.test", "/x", "", 301, "https://secure.test/x"},
	} {
		r.proxy.httpsPort = tt.port
		req, _ := http.NewRequest(tt.method, r.front.URL+tt.target, strings.NewReader(""))
		req.Host = tt.host
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.code || resp.Header.Get("Location") != tt.loc {
			t.Errorf("%s %s%s: %d %q, want %d %q", tt.method, tt.host, tt.target, resp.StatusCode, resp.Header.Get("Location"), tt.code, tt.loc)
		}
	}
}

// tlsFront serves the rig's proxy over TLS with HTTP/2.
func tlsFront(t *testing.T, r *rig) *httptest.Server {
	s := httptest.NewUnstartedServer(r.proxy)
	s.EnableHTTP2 = true
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func TestResponseAndSecurityHeaders(t *testing.T) {
	r := newRig(t, TransportOptions{})
	be := backend(t, func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Server", "leaky/1.0")
		if req.URL.Path == "/deny" {
			w.Header().Set("X-Frame-Options", "DENY")
		}
		io.WriteString(w, "ok")
	})
	r.service("web", catalog.ServiceSpec{Mountpoints: []string{"web.test"},
		ResponseHeaders: map[string]string{"Server": "", "X-Served-By": "edge"}})
	r.instance("web", "a", hostOf(be), 10)
	r.service("plain", catalog.ServiceSpec{Mountpoints: []string{"plain.test"}, SecurityHeaders: new(bool)})
	r.instance("plain", "a", hostOf(be), 10)
	front := tlsFront(t, r)

	get := func(base, host, path string) *http.Response {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Host = host
		resp, err := front.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := get(front.URL, "web.test", "/")
	if resp.ProtoMajor != 2 {
		t.Errorf("proto %s over TLS, want HTTP/2", resp.Proto)
	}
	for k, v := range map[string]string{"Strict-Transport-Security": "max-age=31536000", "X-Frame-Options": "SAMEORIGIN",
		"X-Content-Type-Options": "nosniff", "X-Served-By": "edge", "Server": ""} {
		if g := resp.Header.Get(k); g != v {
			t.Errorf("HTTPS %s = %q, want %q", k, g, v)
		}
	}
	if g := get(front.URL, "web.test", "/deny").Header.Get("X-Frame-Options"); g != "DENY" {
		t.Errorf("the backend's own X-Frame-Options was replaced: %q", g)
	}
	if resp := get(front.URL, "plain.test", "/"); resp.Header.Get("Strict-Transport-Security") != "" {
		t.Error("security headers on a service that turned them off")
	}
	if resp := get(front.URL, "web.test", "/"); resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	// Plain HTTP: response headers, no HSTS.
	plain := r.do("GET", "web.test", "/", nil)
	plain.Body.Close()
	if plain.Header.Get("Strict-Transport-Security") != "" || plain.Header.Get("X-Served-By") != "edge" {
		t.Errorf("plain HTTP headers %v", plain.Header)
	}
	// Errors the router makes carry them too.
	r.service("none", catalog.ServiceSpec{Mountpoints: []string{"none.test"}})
	if resp := get(front.URL, "none.test", "/"); resp.StatusCode != 503 || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("503 over HTTPS: %d %v", resp.StatusCode, resp.Header)
	}
}

// TestH2CBackendStreamsWithTrailers: an h2c backend that echoes a streamed
// request body chunk by chunk and ends with a trailer (as gRPC does),
// reached through the proxy from an HTTP/2 client.
func TestH2CBackendStreamsWithTrailers(t *testing.T) {
	r := newRig(t, TransportOptions{})
	h2c := NewH2CTransport(TransportOptions{ConnectTimeout: time.Second})
	t.Cleanup(h2c.CloseIdleConnections)
	r.proxy.rp.Transport.(*retrying).h2c = h2c
	be := testbed.H2CEcho(t)
	r.service("grpc", catalog.ServiceSpec{Mountpoints: []string{"grpc.test"}, BackendProtocol: "h2c"})
	r.instance("grpc", "a", hostOf(be), 10)
	front := tlsFront(t, r)

	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", front.URL+"/echo.Echo/Stream", pr)
	req.Host = "grpc.test"
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers")
	tr := front.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	tr.ForceAttemptHTTP2 = true
	respc := make(chan *http.Response, 1)
	go func() {
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Error(err)
			close(respc)
			return
		}
		respc <- resp
	}()
	pw.Write([]byte("one"))
	resp := <-respc
	if resp == nil {
		t.FailNow()
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s %s: %s", resp.Proto, resp.Status, b)
	}
	buf := make([]byte, 16)
	for _, msg := range []string{"one", "two", "three"} {
		if msg != "one" {
			pw.Write([]byte(msg))
		}
		n, err := io.ReadAtLeast(resp.Body, buf, len(msg))
		if err != nil || string(buf[:n]) != strings.ToUpper(msg) {
			t.Fatalf("echo of %q: %q, %v", msg, buf[:n], err)
		}
	}
	pw.Close()
	if rest, _ := io.ReadAll(resp.Body); len(rest) != 0 {
		t.Errorf("extra body %q", rest)
	}
	if g := resp.Trailer.Get("Grpc-Status"); g != "0" {
		t.Errorf("trailer Grpc-Status = %q, want 0 (trailers %v)", g, resp.Trailer)
	}
}
