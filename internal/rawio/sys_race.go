//go:build linux && race

package rawio

import (
	"syscall"
	"unsafe"
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

// writev writes the vector one buffer at a time, stopping at a short
// write; like writev(2) it reports an error only when nothing was written.
func writev(fd uintptr, iov []syscall.Iovec) (int, syscall.Errno) {
	total := 0
	for _, v := range iov {
		p := unsafe.Slice(v.Base, v.Len)
		n, errno := errnoOf(syscall.Write(int(fd), p))
		total += n
		if errno != 0 {
			if total > 0 {
				return total, 0
			}
			return 0, errno
		}
		if n < len(p) {
			break
		}
	}
	return total, 0
}
