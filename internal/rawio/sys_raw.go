//go:build linux && !race

package rawio

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Reads and writes, raw (pointers kept alive as in sys_linux.go), made
// with the socket calls rather than read(2), write(2) and writev(2): on a
// TCP socket with no flags they do the same, and they go to the socket
// code directly instead of through the file layer (vfs_read/vfs_write:
// the f_pos lookup, the permission and notification hooks), which took
// a few percent of the router's kernel time per request (perf, 1 000
// keep-alive connections). Writes carry MSG_NOSIGNAL: a write to a
// connection the peer reset fails with EPIPE without raising SIGPIPE
// (which the Go runtime would otherwise take and ignore).

func read(fd uintptr, p []byte) (int, syscall.Errno) { return recv(fd, p, 0) }

func write(fd uintptr, p []byte) (int, syscall.Errno) { return send(fd, p, 0) }

func sendMore(fd uintptr, p []byte) (int, syscall.Errno) { return send(fd, p, syscall.MSG_MORE) }

// send is one raw sendto(2) of p with flags (and MSG_NOSIGNAL), no address.
func send(fd uintptr, p []byte, flags int) (int, syscall.Errno) {
	n, _, errno := syscall.RawSyscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), uintptr(flags|syscall.MSG_NOSIGNAL), 0, 0)
	return int(n), errno
}

func writev(fd uintptr, iov []syscall.Iovec) (int, syscall.Errno) {
	msg := unix.Msghdr{Iov: (*unix.Iovec)(unsafe.Pointer(&iov[0]))} // the same layout
	msg.SetIovlen(len(iov))
	n, _, errno := syscall.RawSyscall(unix.SYS_SENDMSG, fd, uintptr(unsafe.Pointer(&msg)), syscall.MSG_NOSIGNAL)
	return int(n), errno
}
