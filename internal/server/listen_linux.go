//go:build linux

package server

import (
	"context"
	"net"
	"os"
	"syscall"
)

// The TCP keep-alive of accepted connections, the net package's defaults:
// the first probe after 15 s of silence, then one every 15 s; the
// connection is dropped after 9 unanswered.
const (
	keepAliveIdle     = 15 // seconds
	keepAliveInterval = 15 // seconds
	keepAliveCount    = 9
)

// deferAccept is TCP_DEFER_ACCEPT's value on the sockets of protocols
// whose client speaks first (nginx's "deferred"): how long, in seconds,
// the kernel holds a connection that has sent nothing yet before it is
// accepted all the same — then the read timeouts apply to it as to any.
const deferAccept = 1

// listenTCP opens a listening TCP socket on addr whose accepted
// connections get TCP keep-alive (keepAliveIdle…) from the listening socket:
// Linux copies SO_KEEPALIVE and the TCP_KEEP* options to every socket it
// accepts. The net package would instead make four setsockopt calls per
// accepted connection. A socket inherited on upgrade is made by
// net.FileListener, which cannot be told so: its connections get the same
// keep-alive the net package's way, with those calls.
//
// clientFirst (HTTP, TLS) sets TCP_DEFER_ACCEPT: a connection is accepted
// once its first bytes have come, so the first read finds them instead of
// failing (EAGAIN) and waiting for the netpoller to wake the goroutine
// again. The option stays with the socket when an upgrade hands it over.
// A TCP service port leaves it off: its protocol may have the server speak
// first.
func listenTCP(addr string, clientFirst bool) (net.Listener, error) {
	lc := net.ListenConfig{KeepAlive: -1, Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			opts := []struct{ level, opt, v int }{
				{syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1},
				{syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, keepAliveIdle},
				{syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL, keepAliveInterval},
				{syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT, keepAliveCount},
			}
			if clientFirst {
				opts = append(opts, struct{ level, opt, v int }{syscall.IPPROTO_TCP, syscall.TCP_DEFER_ACCEPT, deferAccept})
			}
			for _, o := range opts {
				if serr = syscall.SetsockoptInt(int(fd), o.level, o.opt, o.v); serr != nil {
					serr = os.NewSyscallError("setsockopt", serr)
					return
				}
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	return lc.Listen(context.Background(), "tcp", addr)
}
