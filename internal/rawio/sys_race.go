//go:build linux && race

package rawio

import (
	"syscall"
)

// Under the race detector, reads and writes are the syscall package's:
// they tell the detector that what one end of a socket writes before the
// other end reads it happens before. Raw calls would hide that, and the
// detector would report races between a server and its clients that the
// connection orders. peek consumes nothing, so it stays raw
// (sys_linux.go).

func read(fd uintptr, p []byte) (int, syscall.Errno) { return errnoOf(syscall.Read(int(fd), p)) }

func write(fd uintptr, p []byte) (int, syscall.Errno) { return errnoOf(syscall.Write(int(fd), p)) }

func sendMore(fd uintptr, p []byte) (int, syscall.Errno) {
	return errnoOf(syscall.SendmsgN(int(fd), p, nil, nil, syscall.MSG_MORE))
}

// writev writes the vector one buffer at a time (writeEach).
func writev(fd uintptr, iov []syscall.Iovec) (int, syscall.Errno) { return writeEach(fd, iov) }
