//go:build linux

package server

import (
	"net"
	"syscall"
	"testing"
)

// TestListenerGivesKeepAlive checks that connections accepted on
// listenTCP's socket have TCP keep-alive from the socket (no per-connection
// calls), with the same settings as those accepted on the socket inherited
// by a new process on upgrade, which the net package sets itself.
func TestListenerGivesKeepAlive(t *testing.T) {
	ln, err := listenTCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	want := keepAliveOpts{1, keepAliveIdle, keepAliveInterval, keepAliveCount}
	if got := acceptedOpts(t, ln); got != want {
		t.Errorf("accepted on the new listener: keep-alive %+v, want %+v", got, want)
	}

	// The upgrade's path: tableflip hands the socket over as a file and
	// the new process makes it a listener with net.FileListener.
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	inherited, err := net.FileListener(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer inherited.Close()
	if got := acceptedOpts(t, inherited); got != want {
		t.Errorf("accepted on the inherited listener: keep-alive %+v, want %+v", got, want)
	}
}

type keepAliveOpts struct{ on, idle, interval, count int }

// acceptedOpts dials ln and returns the keep-alive settings of the
// connection it accepts.
func acceptedOpts(t *testing.T, ln net.Listener) keepAliveOpts {
	t.Helper()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ac, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close()
	raw, err := ac.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var o keepAliveOpts
	var gerr error
	raw.Control(func(fd uintptr) {
		get := func(level, opt int) int {
			v, err := syscall.GetsockoptInt(int(fd), level, opt)
			if err != nil && gerr == nil {
				gerr = err
			}
			return v
		}
		o = keepAliveOpts{
			get(syscall.SOL_SOCKET, syscall.SO_KEEPALIVE),
			get(syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE),
			get(syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL),
			get(syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT),
		}
	})
	if gerr != nil {
		t.Fatal(gerr)
	}
	return o
}
