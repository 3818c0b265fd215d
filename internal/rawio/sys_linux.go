//go:build linux

package rawio

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

const supported = true

// The buffers' pointers are passed as uintptr in the call's own argument
// list, which keeps them alive for the call (syscall.RawSyscall is marked
// go:uintptrkeepalive). Each p has at least one byte. The call numbers are
// x/sys/unix's: linux/386 has direct socket calls only there.

// peek is raw in every Linux build: it consumes nothing, so the race
// detector has nothing to learn from it (see sys_race.go).
func peek(fd uintptr, p []byte) (int, syscall.Errno) {
	return recv(fd, p, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
}

// recv is one raw recvfrom(2) into p with flags, no address asked for.
func recv(fd uintptr, p []byte, flags int) (int, syscall.Errno) {
	n, _, errno := syscall.RawSyscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), uintptr(flags), 0, 0)
	return int(n), errno
}
