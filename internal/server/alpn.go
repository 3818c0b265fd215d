package server

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
)

// serveTLS serves the HTTPS entry point: each connection's TLS handshake
// is done here, then a connection that negotiated HTTP/2 goes to net/http
// and any other (HTTP/1.1) to h1. It returns when e.ln fails. A connection
// counts as open for the drain from its accept, so that a drain waits for
// handshakes under way; the HTTP/2 queue stays open until the drain ends.
func (e *entrypoint) serveTLS() error {
	go e.srv.Serve(e.h2) // ends when the drain closes e.h2
	for {
		c, err := e.ln.Accept()
		if err != nil {
			return err
		}
		e.track(c, http.StateNew)
		go e.handshake(c)
	}
}

// handshake completes c's TLS handshake (within readHeaderTimeout) and
// hands c to the server of the protocol it negotiated.
func (e *entrypoint) handshake(c net.Conn) {
	tc, ok := c.(*tls.Conn)
	if !ok {
		e.h1.ServeConn(c)
		return
	}
	ctx, cancel := context.WithTimeout(e.base, readHeaderTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		// A client that gave up, a scanner, or no certificate for the
		// name: nothing to answer (net/http only logs these).
		e.log.Debug("TLS handshake failed", "client", c.RemoteAddr().String(), "error", err.Error())
		c.Close()
		e.track(c, http.StateClosed)
		return
	}
	if tc.ConnectionState().NegotiatedProtocol == "h2" {
		e.h2.push(c)
		return
	}
	e.h1.ServeConn(c)
}

// connQueue is a net.Listener fed with connections accepted elsewhere.
type connQueue struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newConnQueue(addr net.Addr) *connQueue {
	return &connQueue{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

// push hands c to the server accepting from q, or closes c if q is closed
// (the drain is over).
func (q *connQueue) push(c net.Conn) {
	select {
	case q.conns <- c:
	case <-q.done:
		c.Close()
	}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.conns:
		return c, nil
	case <-q.done:
		return nil, net.ErrClosed
	}
}

func (q *connQueue) Close() error {
	q.once.Do(func() { close(q.done) })
	return nil
}

func (q *connQueue) Addr() net.Addr { return q.addr }
