package hangup

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Set is one epoll instance and the buffer its polls read events into.
type Set struct {
	epfd int
	evs  []unix.EpollEvent
}

// pollBatch is how many events one epoll_wait reads; Poll repeats the call
// while it fills the buffer.
const pollBatch = 128

// New makes an empty set.
func New() (*Set, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("hangup: epoll_create1: %w", err)
	}
	return &Set{epfd: fd, evs: make([]unix.EpollEvent, pollBatch)}, nil
}

// Add registers the connection with descriptor fd under key (see the
// package contract). Edge-triggered, for the peer's hang-up only:
// EPOLLRDHUP, to which the kernel adds EPOLLERR and EPOLLHUP; a wake-up
// for arriving data carries EPOLLIN, which the registration's mask turns
// away before anything is queued.
func (s *Set) Add(fd uintptr, key uint64) error {
	ev := unix.EpollEvent{Events: unix.EPOLLRDHUP | unix.EPOLLET}
	// The key travels in the event's 64-bit data: Fd holds its low half,
	// Pad its high half (x/sys/unix's layout of epoll_data on Linux).
	ev.Fd, ev.Pad = int32(uint32(key)), int32(uint32(key>>32))
	if err := unix.EpollCtl(s.epfd, unix.EPOLL_CTL_ADD, int(fd), &ev); err != nil {
		return fmt.Errorf("hangup: epoll_ctl add: %w", err)
	}
	return nil
}

// Poll calls found with the key of each connection whose peer hung up
// since the last Poll (or before its Add), without waiting.
func (s *Set) Poll(found func(key uint64)) error {
	for {
		n, err := unix.EpollWait(s.epfd, s.evs, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("hangup: epoll_wait: %w", err)
		}
		for i := range s.evs[:n] {
			ev := &s.evs[i]
			found(uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32)
		}
		if n < len(s.evs) {
			return nil
		}
	}
}

// Close ends the set and every registration in it.
func (s *Set) Close() error { return unix.Close(s.epfd) }
