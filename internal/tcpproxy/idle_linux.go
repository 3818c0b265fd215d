package tcpproxy

import (
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// sinceData returns how long ago data was last received on either socket
// (the smaller of the two), from the kernel's TCP_INFO. ok is false when
// either is not a TCP socket or the kernel does not say.
func sinceData(a, b net.Conn) (d time.Duration, ok bool) {
	da, oka := lastRecv(a)
	db, okb := lastRecv(b)
	return min(da, db), oka && okb
}

func lastRecv(c net.Conn) (time.Duration, bool) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return 0, false
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var info *unix.TCPInfo
	cerr := rc.Control(func(fd uintptr) { info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) })
	if cerr != nil || err != nil {
		return 0, false
	}
	return time.Duration(info.Last_data_recv) * time.Millisecond, true
}
