//go:build !linux

package rawio

import "syscall"

// Elsewhere New returns nil and the helpers make ordinary system calls.
const supported = false

func read(fd uintptr, p []byte) (int, syscall.Errno)              { return errnoOf(syscall.Read(int(fd), p)) }
func write(fd uintptr, p []byte) (int, syscall.Errno)             { return errnoOf(syscall.Write(int(fd), p)) }
func sendMore(fd uintptr, p []byte) (int, syscall.Errno)          { return write(fd, p) }
func writev(fd uintptr, iov []syscall.Iovec) (int, syscall.Errno) { return writeEach(fd, iov) }

func peek(fd uintptr, p []byte) (int, syscall.Errno) {
	n, _, err := syscall.Recvfrom(int(fd), p, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return errnoOf(n, err)
}
