package tlsfront

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/certtest"
	"github.com/webrouter/webrouter/internal/compile"
	"github.com/webrouter/webrouter/internal/route"
	"github.com/webrouter/webrouter/internal/tcpproxy"
	"github.com/webrouter/webrouter/internal/upstream"
)

// tlsBackend serves HTTPS with its own certificate and answers "backend".
func tlsBackend(t *testing.T, cert tls.Certificate) string {
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "backend") })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func TestFront(t *testing.T) {
	ca, other := certtest.MustCA("router CA"), certtest.MustCA("backend CA")
	st := catalog.NewState()
	feed := st.Subscribe()
	c := compile.New(upstream.NewSet())
	var table atomic.Pointer[route.Table]
	apply := func() { table.Store(c.Apply(feed.Take())) }
	apply()
	put := func(name string, leaf *certtest.Cert) {
		crt, err := catalog.NewCertificate(name, catalog.CertificateSpec{Cert: leaf.CertPEM, Key: leaf.KeyPEM}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		st.PutCertificate(st.Rev()+1, crt)
		apply()
	}
	put("a", ca.MustIssue(certtest.Options{Names: []string{"a.test"}}))
	put("default", ca.MustIssue(certtest.Options{Names: []string{"fallback.test"}}))

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	fw := tcpproxy.NewForwarder(tcpproxy.Options{})
	cfg := NewConfig(table.Load, "default")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go RotateTickets(ctx, cfg)
	f := New(ln, Options{Table: table.Load, TLS: cfg, HelloTimeout: time.Second,
		Passthrough: func(c net.Conn, prefix []byte, svc *route.Service) { fw.Serve(c, prefix, svc, "https") }})
	go f.Serve()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "router "+r.Proto+" "+r.TLS.ServerName)
	})}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetHTTP2(true)
	go srv.Serve(f.Listener())
	defer srv.Close()
	addr := ln.Addr().String()

	get := func(serverName string, roots *tls.Config) (string, string, error) {
		tr := &http.Transport{TLSClientConfig: roots, ForceAttemptHTTP2: true}
		tr.TLSClientConfig.ServerName = serverName
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("https://" + addr + "/")
		if err != nil {
			return "", "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b), resp.TLS.PeerCertificates[0].Subject.CommonName, nil
	}
	trust := func(c *certtest.CA) *tls.Config { return &tls.Config{RootCAs: c.Pool()} }

	for _, round := range []string{"no passthrough", "with passthrough"} {
		body, cn, err := get("a.test", trust(ca))
		if err != nil || body != "router HTTP/2.0 a.test" || cn != "a.test" {
			t.Errorf("%s: a.test: %q %q %v", round, body, cn, err)
		}
		// No SNI (an IP address): the default certificate.
		conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil || conn.ConnectionState().PeerCertificates[0].Subject.CommonName != "fallback.test" {
			t.Errorf("%s: without SNI: %v", round, err)
		} else {
			conn.Close()
		}
		if round == "no passthrough" {
			backendLeaf := other.MustIssue(certtest.Options{Names: []string{"secure.test"}})
			be := tlsBackend(t, backendLeaf.TLS)
			svc, _ := catalog.NewService("secure", catalog.ServiceSpec{Mountpoints: []string{"tls://secure.test"}})
			st.PutService(st.Rev()+1, svc)
			host, p, _ := net.SplitHostPort(be)
			port, _ := strconv.Atoi(p)
			in, _ := catalog.NewInstance("a", catalog.InstanceSpec{Address: host, Port: port})
			st.PutInstance(st.Rev()+1, "secure", in)
			apply()
		}
	}
	// Passthrough: the backend's own certificate, from the other CA.
	body, cn, err := get("secure.test", trust(other))
	if err != nil || body != "backend" || cn != "secure.test" {
		t.Errorf("passthrough: %q %q %v", body, cn, err)
	}
	// Not TLS at all: closed.
	raw, _ := net.Dial("tcp", addr)
	raw.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	raw.SetReadDeadline(time.Now().Add(3 * time.Second))
	if n, _ := raw.Read(make([]byte, 10)); n != 0 {
		t.Error("a plain HTTP request got an answer on the TLS port")
	}
	raw.Close()
}
