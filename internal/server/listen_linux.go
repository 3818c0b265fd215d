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

// listenTCP opens a listening TCP socket on addr whose accepted
// connections get TCP keep-alive (keepAliveIdle…) from the listening socket:
// Linux copies SO_KEEPALIVE and the TCP_KEEP* options to every socket it
// accepts. The net package would instead make four setsockopt calls per
// accepted connection. A socket inherited on upgrade is made by
// net.FileListener, which cannot be told so: its connections get the same
// keep-alive the net package's way, with those calls.
func listenTCP(addr string) (net.Listener, error) {
	lc := net.ListenConfig{KeepAlive: -1, Control: func(_, _ string, c syscall.RawConn) error {
		return setIntOpts(c,
			intOpt{syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1},
			intOpt{syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, keepAliveIdle},
			intOpt{syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL, keepAliveInterval},
			intOpt{syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT, keepAliveCount})
	}}
	return lc.Listen(context.Background(), "tcp", addr)
}

// intOpt is an integer socket option and its value.
type intOpt struct{ level, opt, v int }

// setIntOpts sets opts on c's socket, in order, and stops at the first
// that fails.
func setIntOpts(c syscall.RawConn, opts ...intOpt) error {
	var serr error
	err := c.Control(func(fd uintptr) {
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
}

// deferAccept is TCP_DEFER_ACCEPT's value (nginx's "deferred"): how long,
// in seconds, the kernel holds a connection that has sent nothing yet
// before it is accepted all the same — then the read timeouts apply to it
// as to any.
const deferAccept = 1

// setDeferAccept sets TCP_DEFER_ACCEPT on ln's socket, for a protocol whose
// client speaks first (HTTP, TLS): a connection is accepted once its first
// bytes have come, so the first read finds them instead of failing
// (EAGAIN) and waiting for the netpoller to wake the goroutine again. Set
// on a socket new or inherited on upgrade alike (one from a release before
// this option lacks it).
func setDeferAccept(ln net.Listener) error {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	return setIntOpts(raw, intOpt{syscall.IPPROTO_TCP, syscall.TCP_DEFER_ACCEPT, deferAccept})
}
