package tlsfront

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"time"
)

// errPeeked ends the handshake run by peekHello once it has the
// ClientHello.
var errPeeked = errors.New("tlsfront: ClientHello read")

// peekHello reads a TLS ClientHello from c without answering it and
// returns the server name it asks for and every byte read, which the
// caller must replay to whoever takes the connection (a backend, or the
// TLS server). It gives up after timeout.
//
// It runs crypto/tls's own parser: a server handshake over a connection
// that records what it reads and refuses to write, stopped by
// GetConfigForClient as soon as the ClientHello is parsed.
func peekHello(c net.Conn, timeout time.Duration) (serverName string, read []byte, err error) {
	rc := &recordingConn{Conn: c}
	var name string
	got := false
	cfg := &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		name, got = h.ServerName, true
		return nil, errPeeked
	}}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err = tls.Server(rc, cfg).HandshakeContext(ctx)
	if got {
		return name, rc.buf.Bytes(), nil
	}
	if err == nil {
		err = errors.New("tlsfront: handshake ended before a ClientHello")
	}
	return "", rc.buf.Bytes(), err
}

// recordingConn keeps a copy of what is read and writes nothing.
type recordingConn struct {
	net.Conn
	buf bytes.Buffer
}

func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.buf.Write(p[:n])
	return n, err
}

func (c *recordingConn) Write(p []byte) (int, error) { return len(p), nil }

// replayConn returns the bytes a peek read before reading on.
type replayConn struct {
	net.Conn
	prefix []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}
