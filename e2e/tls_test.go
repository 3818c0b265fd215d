package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/webrouter/webrouter/internal/certtest"
)

// startTLSRouter runs webrouter with an HTTPS entry point and TCP service
// ports on loopback.
func startTLSRouter(t *testing.T, extra ...string) *router {
	t.Helper()
	return startRouter(t, t.TempDir(), append([]string{"--https", "127.0.0.1:0", "--tcp-bind", "127.0.0.1"}, extra...)...)
}

// putCert stores a certificate through the admin API.
func (r *router) putCert(name string, leaf *certtest.Cert, domains ...string) {
	r.t.Helper()
	body, _ := json.Marshal(map[string]any{"cert": leaf.CertPEM, "key": leaf.KeyPEM, "domains": domains})
	r.mustAPI("PUT", "/v1/certificates/"+name, string(body))
}

// handshake connects to the HTTPS entry point with serverName as SNI ("" for
// none) and returns the leaf the router presented, verified against roots
// unless roots is nil.
func handshake(t *testing.T, addr, serverName string, roots *x509.CertPool) (*x509.Certificate, error) {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{ServerName: serverName, RootCAs: roots, InsecureSkipVerify: roots == nil})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0], nil
}

// httpsClient trusts roots and dials every request to the entry point at
// addr, whatever the URL's host, so that URLs can carry the server name.
func httpsClient(addr string, roots *x509.CertPool, protos ...string) *http.Client {
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots, NextProtos: protos},
		ForceAttemptHTTP2: len(protos) == 0,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// TestHTTPSCertificatesBySNI: three certificates including a wildcard, a
// default one, one from --cert-dir; HTTP/2; HSTS and the other security
// headers; https_only redirects on the plain HTTP port.
func TestHTTPSCertificatesBySNI(t *testing.T) {
	ca := certtest.MustCA("webrouter e2e CA")
	dir := t.TempDir()
	dirLeaf := ca.MustIssue(certtest.Options{Names: []string{"dir.test"}})
	os.WriteFile(filepath.Join(dir, "fromdir.crt"), []byte(dirLeaf.CertPEM), 0o600)
	os.WriteFile(filepath.Join(dir, "fromdir.key"), []byte(dirLeaf.KeyPEM), 0o600)
	r := startTLSRouter(t, "--cert-dir", dir, "--default-cert", "fallback")
	r.putCert("a", ca.MustIssue(certtest.Options{Names: []string{"a.test"}}))
	r.putCert("b", ca.MustIssue(certtest.Options{Names: []string{"b.test", "www.b.test"}}))
	r.putCert("wild", ca.MustIssue(certtest.Options{Names: []string{"*.wild.test"}}))
	r.putCert("fallback", ca.MustIssue(certtest.Options{Names: []string{"fallback.test"}}))
	lain := ca.MustIssue(certtest.Options{Names: []string{"not-used.test"}})
	r.putCert("lain", lain, "*.lain", "lain") // LAIN's ssl map: explicit domains

	for sni, want := range map[string]string{
		"a.test": "a.test", "www.b.test": "b.test", "x.wild.test": "*.wild.test", "dir.test": "dir.test",
		"web.lain": "not-used.test", "unknown.test": "fallback.test", "": "fallback.test", "x.y.wild.test": "fallback.test",
	} {
		roots := ca.Pool()
		switch sni {
		case "unknown.test", "x.y.wild.test", "web.lain", "":
			// The certificate sent does not name them (the default one, or
			// domains given instead of the SANs): look without verifying.
			roots = nil
		}
		leaf, err := handshake(t, r.HTTPS, sni, roots)
		if err != nil || leaf.DNSNames[0] != want {
			t.Errorf("SNI %q: %v, want %s", sni, err, want)
		}
	}

	web := named(t, "web")
	r.mustAPI("PUT", "/v1/services/app", `{"mountpoints":["a.test","x.wild.test"],"https_only":true,"response_headers":{"X-Served-By":"edge"}}`)
	r.mustAPI("PUT", "/v1/services/app/instances/a", instanceJSON(web))
	c := httpsClient(r.HTTPS, ca.Pool())
	resp, err := c.Get("https://a.test/p?q=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || string(body) != "web /p?q=1" {
		t.Errorf("HTTPS answer %s %q", resp.Proto, body)
	}
	for k, v := range map[string]string{"Strict-Transport-Security": "max-age=31536000", "X-Frame-Options": "SAMEORIGIN",
		"X-Content-Type-Options": "nosniff", "X-Served-By": "edge"} {
		if g := resp.Header.Get(k); g != v {
			t.Errorf("%s = %q, want %q", k, g, v)
		}
	}

	// HTTP/1.1 over TLS (served by h1, not net/http): the same answer, and
	// the request is known to be HTTPS (HSTS, no https_only redirect).
	c1 := httpsClient(r.HTTPS, ca.Pool(), "http/1.1")
	for i := 0; i < 3; i++ {
		resp, err := c1.Get("https://a.test/p?q=1")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 1 || resp.StatusCode != 200 || string(body) != "web /p?q=1" || resp.Header.Get("Strict-Transport-Security") == "" {
			t.Errorf("HTTPS/1.1 answer %s %d %q %v", resp.Proto, resp.StatusCode, body, resp.Header)
		}
	}

	// https_only: plain HTTP goes to the HTTPS port, host, path and query kept.
	_, httpsPort, _ := net.SplitHostPort(r.HTTPS)
	plain := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for method, code := range map[string]int{"GET": 301, "HEAD": 301, "POST": 308, "DELETE": 308} {
		req, _ := http.NewRequest(method, "http://"+r.http+"/x/y?z=1&w=%2F", strings.NewReader(""))
		req.Host = "A.test:8080"
		resp, err := plain.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if want := "https://A.test:" + httpsPort + "/x/y?z=1&w=%2F"; resp.StatusCode != code || resp.Header.Get("Location") != want {
			t.Errorf("%s over HTTP: %d %q, want %d %q", method, resp.StatusCode, resp.Header.Get("Location"), code, want)
		}
	}

	// The certificate list: names, domains, dates, never a key.
	code, list := r.api("GET", "/v1/certificates", "")
	if code != 200 || strings.Contains(string(list), "PRIVATE") || !strings.Contains(string(list), `"source": "dir"`) {
		t.Errorf("GET /v1/certificates: %d %s", code, list)
	}
	var doc struct {
		Certificates []struct {
			Name        string   `json:"name"`
			Domains     []string `json:"domains"`
			Default     bool     `json:"default"`
			ExpiresSoon bool     `json:"expires_soon"`
		} `json:"certificates"`
	}
	decode(t, list, &doc)
	if len(doc.Certificates) != 6 || doc.Certificates[1].Name != "b" || doc.Certificates[2].Name != "fallback" || !doc.Certificates[2].Default {
		t.Errorf("certificates %+v", doc.Certificates)
	}
	if strings.Contains(r.stderr.String(), "PRIVATE KEY") {
		t.Error("a key reached the log")
	}
}

// TestCertificateWritesAreChecked: expired, mismatched and unparsable
// certificates are refused with a clear error; one expiring soon is
// accepted and flagged in the API, the log and the metrics.
func TestCertificateWritesAreChecked(t *testing.T) {
	r := startTLSRouter(t)
	ca := certtest.MustCA("ca")
	good := ca.MustIssue(certtest.Options{Names: []string{"a.test"}})
	other := ca.MustIssue(certtest.Options{Names: []string{"b.test"}})
	expired := ca.MustIssue(certtest.Options{Names: []string{"a.test"}, NotBefore: time.Now().Add(-72 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	soon := ca.MustIssue(certtest.Options{Names: []string{"soon.test"}, NotAfter: time.Now().Add(5 * 24 * time.Hour)})
	for _, tt := range []struct {
		body, field, msg string
	}{
		{mustJSON(map[string]string{"cert": expired.CertPEM, "key": expired.KeyPEM}), "cert", "expired on"},
		{mustJSON(map[string]string{"cert": good.CertPEM, "key": other.KeyPEM}), "key", "does not match"},
		{mustJSON(map[string]string{"cert": "not a certificate", "key": good.KeyPEM}), "cert", "PEM"},
		{mustJSON(map[string]string{"cert": good.CertPEM}), "key", "required"},
	} {
		code, b := r.api("PUT", "/v1/certificates/x", tt.body)
		var e struct{ Error, Field string }
		json.Unmarshal(b, &e)
		if code != 400 || e.Field != tt.field || !strings.Contains(e.Error, tt.msg) || strings.Contains(string(b), "PRIVATE") {
			t.Errorf("PUT: %d %s; want 400 on %s mentioning %q", code, b, tt.field, tt.msg)
		}
	}
	if code, _ := r.api("GET", "/v1/certificates/x", ""); code != 404 {
		t.Errorf("a refused certificate was stored: %d", code)
	}
	r.putCert("soon", soon)
	_, b := r.api("GET", "/v1/certificates/soon", "")
	if !strings.Contains(string(b), `"expires_soon": true`) {
		t.Errorf("GET soon: %s", b)
	}
	eventually(t, 5*time.Second, "the expiry warning in the log", func() bool {
		return len(r.stderr.Lines("certificate expires soon; renew it")) == 1
	})
	_, metrics := r.api("GET", "/metrics", "")
	if !strings.Contains(string(metrics), `webrouter_certificate_expires_soon{name="soon",source="registry"} 1`) {
		t.Error("metrics do not flag the certificate")
	}
	r.mustAPI("DELETE", "/v1/certificates/soon", "")
	if code, _ := r.api("DELETE", "/v1/certificates/soon", ""); code != 404 {
		t.Errorf("second delete: %d", code)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestTLSPassthrough: a service with a tls:// mountpoint gets the raw TLS
// connection; its backend's own certificate (from another CA) reaches the
// client, while other names are still terminated by the router.
func TestTLSPassthrough(t *testing.T) {
	r := startTLSRouter(t)
	routerCA, backendCA := certtest.MustCA("router CA"), certtest.MustCA("backend CA")
	r.putCert("a", routerCA.MustIssue(certtest.Options{Names: []string{"a.test"}}))
	be := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		fmt.Fprintf(w, "backend %s %s", req.Proto, req.TLS.ServerName)
	}))
	be.TLS = &tls.Config{Certificates: []tls.Certificate{backendCA.MustIssue(certtest.Options{Names: []string{"secure.test"}}).TLS}}
	be.EnableHTTP2 = true
	be.StartTLS()
	t.Cleanup(be.Close)
	r.mustAPI("PUT", "/v1/services/secure", `{"mountpoints":["tls://secure.test"]}`)
	r.mustAPI("PUT", "/v1/services/secure/instances/a", instanceJSON(be))
	web := named(t, "web")
	r.mustAPI("PUT", "/v1/services/app", `{"mountpoints":["a.test"]}`)
	r.mustAPI("PUT", "/v1/services/app/instances/a", instanceJSON(web))

	resp, err := httpsClient(r.HTTPS, backendCA.Pool()).Get("https://secure.test/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "backend HTTP/2.0 secure.test" || resp.TLS.PeerCertificates[0].Issuer.CommonName != "backend CA" {
		t.Errorf("passthrough answer %q from %s", b, resp.TLS.PeerCertificates[0].Issuer)
	}
	resp, err = httpsClient(r.HTTPS, routerCA.Pool()).Get("https://a.test/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "web /" {
		t.Errorf("terminated answer %q", b)
	}
	// The passthrough option on a host mountpoint does the same.
	r.mustAPI("PUT", "/v1/services/secure", `{"mountpoints":["secure.test"],"passthrough":true}`)
	if leaf, err := handshake(t, r.HTTPS, "secure.test", backendCA.Pool()); err != nil || leaf.Issuer.CommonName != "backend CA" {
		t.Errorf("passthrough option: %v", err)
	}
	_, routes := r.api("GET", "/v1/routes", "")
	if !strings.Contains(string(routes), `"passthrough"`) || !strings.Contains(string(routes), `"host": "secure.test"`) {
		t.Errorf("routes: %s", routes)
	}
}

// TestWebSocketOverHTTPS: HTTP/1.1 upgrades work on the TLS entry point.
func TestWebSocketOverHTTPS(t *testing.T) {
	r := startTLSRouter(t)
	ca := certtest.MustCA("ca")
	r.putCert("ws", ca.MustIssue(certtest.Options{Names: []string{"ws.test"}}))
	be := wsEchoBackend(t)
	r.mustAPI("PUT", "/v1/services/ws", `{"mountpoints":["ws.test"]}`)
	r.mustAPI("PUT", "/v1/services/ws/instances/a", instanceJSON(be))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "wss://ws.test/", &websocket.DialOptions{HTTPClient: httpsClient(r.HTTPS, ca.Pool(), "http/1.1")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	for _, msg := range []string{"one", "two"} {
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		if _, got, err := c.Read(ctx); err != nil || string(got) != msg {
			t.Fatalf("echo %q: %q %v", msg, got, err)
		}
	}
}

// TestCertDir: --cert-dir certificates are served from the start, even
// with an empty registry, and follow the directory's changes.
func TestCertDir(t *testing.T) {
	ca := certtest.MustCA("ca")
	dir := t.TempDir()
	write := func(name string, c *certtest.Cert) {
		os.WriteFile(filepath.Join(dir, name+".key"), []byte(c.KeyPEM), 0o600)
		os.WriteFile(filepath.Join(dir, name+".crt"), []byte(c.CertPEM), 0o600)
	}
	write("one", ca.MustIssue(certtest.Options{Names: []string{"one.test"}}))
	r := startTLSRouter(t, "--cert-dir", dir)
	if _, err := handshake(t, r.HTTPS, "one.test", ca.Pool()); err != nil {
		t.Fatalf("at start: %v", err)
	}
	write("two", ca.MustIssue(certtest.Options{Names: []string{"two.test"}}))
	eventually(t, 10*time.Second, "the new file to be served", func() bool {
		_, err := handshake(t, r.HTTPS, "two.test", ca.Pool())
		return err == nil
	})
	os.Remove(filepath.Join(dir, "one.crt"))
	eventually(t, 10*time.Second, "the removed file to go", func() bool {
		_, err := handshake(t, r.HTTPS, "one.test", ca.Pool())
		return err != nil
	})
}
