//go:build linux

package server

import (
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/cloudflare/tableflip"
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

	if got := acceptedOpts(t, handedOver(t, ln)); got != want {
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
	tc := ac.(*net.TCPConn)
	return keepAliveOpts{
		sockopt(t, tc, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE),
		sockopt(t, tc, syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE),
		sockopt(t, tc, syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL),
		sockopt(t, tc, syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT),
	}
}

// handedOver returns ln's socket as a new process gets it on upgrade:
// tableflip hands it over as a file, made a listener by net.FileListener.
// It is closed when the test ends.
func handedOver(t *testing.T, ln net.Listener) net.Listener {
	t.Helper()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	inherited, err := net.FileListener(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inherited.Close() })
	return inherited
}

// TestListenerDefersAccept checks TCP_DEFER_ACCEPT (setDeferAccept), set
// on the sockets of protocols whose client speaks first: a connection that
// has sent nothing is not accepted at once, one that has is, with its bytes
// ready to read; a silent one is still accepted after about deferAccept
// seconds. The option stays with a socket handed over on upgrade, and is
// set on one handed over without it. A socket without it (a TCP service
// port's) accepts a silent connection at once.
func TestListenerDefersAccept(t *testing.T) {
	ln, err := listenTCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := setDeferAccept(ln); err != nil {
		t.Fatal(err)
	}
	tl := ln.(*net.TCPListener)

	silent, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	tl.SetDeadline(time.Now().Add(200 * time.Millisecond))
	if c, err := ln.Accept(); err == nil {
		c.Close()
		t.Fatal("a connection that sent nothing was accepted at once")
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatal(err)
	}

	talking, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer talking.Close()
	if _, err := talking.Write([]byte("GET / HTTP/1.1\r\n")); err != nil {
		t.Fatal(err)
	}
	tl.SetDeadline(time.Now().Add(5 * time.Second))
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	silentSeen := false
	if c.RemoteAddr().String() == silent.LocalAddr().String() {
		// The silent one came first: its second is up, which a slow
		// machine may reach; then the talking one is next.
		silentSeen = true
		c.Close()
		if c, err = ln.Accept(); err != nil {
			t.Fatal(err)
		}
	}
	if n := pending(t, c); n == 0 {
		t.Error("accepted connection had nothing to read yet")
	}
	c.Close()

	// The silent connection is not lost: accepted once deferAccept is up.
	start := time.Now()
	for !silentSeen {
		c, err := ln.Accept()
		if err != nil {
			t.Fatalf("silent connection not accepted after %v: %v", time.Since(start), err)
		}
		silentSeen = c.RemoteAddr().String() == silent.LocalAddr().String()
		c.Close()
	}

	if v := sockopt(t, handedOver(t, ln).(*net.TCPListener), syscall.IPPROTO_TCP, syscall.TCP_DEFER_ACCEPT); v == 0 {
		t.Error("the socket handed over on upgrade lost TCP_DEFER_ACCEPT")
	}

	port, err := listenTCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer port.Close()
	// From a release that did not set it: set on the socket handed over.
	old := handedOver(t, port)
	if v := sockopt(t, old.(*net.TCPListener), syscall.IPPROTO_TCP, syscall.TCP_DEFER_ACCEPT); v != 0 {
		t.Fatalf("a socket without setDeferAccept has TCP_DEFER_ACCEPT %d", v)
	}
	if err := setDeferAccept(old); err != nil {
		t.Fatal(err)
	}
	if v := sockopt(t, old.(*net.TCPListener), syscall.IPPROTO_TCP, syscall.TCP_DEFER_ACCEPT); v == 0 {
		t.Error("setDeferAccept on a socket handed over without the option did not set it")
	}
	// old is the same socket as port: from here on, port defers too.
	port.Close()
	if port, err = listenTCP("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer port.Close()
	quiet, err := net.Dial("tcp", port.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer quiet.Close()
	port.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
	if c, err := port.Accept(); err != nil {
		t.Errorf("TCP service port: silent connection not accepted: %v", err)
	} else {
		c.Close()
	}
}

// pending returns how many bytes c has ready to read, without reading.
func pending(t *testing.T, c net.Conn) int {
	t.Helper()
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var perr error
	raw.Control(func(fd uintptr) {
		var b [64]byte
		n, _, perr = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	})
	if perr != nil && perr != syscall.EAGAIN {
		t.Fatal(perr)
	}
	return max(n, 0)
}

// sockopt reads an integer option of a socket.
func sockopt(t *testing.T, sc syscall.Conn, level, opt int) int {
	t.Helper()
	raw, err := sc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	raw.Control(func(fd uintptr) { v, gerr = syscall.GetsockoptInt(int(fd), level, opt) })
	if gerr != nil {
		t.Fatal(gerr)
	}
	return v
}

// TestListenDefersByRole checks that listen sets TCP_DEFER_ACCEPT on the
// sockets whose clients speak first — the entry points' and the admin
// API's — and not on a TCP service port's.
func TestListenDefersByRole(t *testing.T) {
	upg, err := tableflip.New(tableflip.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer upg.Stop()
	for role, want := range map[string]bool{"http": true, "https": true, "admin": true, "tcp:9000": false} {
		ln, err := listen(upg, role, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		got := sockopt(t, ln.(*net.TCPListener), syscall.IPPROTO_TCP, syscall.TCP_DEFER_ACCEPT) != 0
		ln.Close()
		if got != want {
			t.Errorf("role %s: TCP_DEFER_ACCEPT %v, want %v", role, got, want)
		}
	}
}
