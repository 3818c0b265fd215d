// Package deadline renews a connection's read deadline cheaply. A server
// or a proxy renews a timeout on every request of a kept-alive connection;
// setting a deadline is runtime timer work, a few per request add up on the
// hot path. Read remembers the deadline it set and sets a renewed one only
// when it moves by more than a tenth of its timeout (never more than a
// second), so on a busy connection renewing is free and a timeout fires at
// most that much early.
package deadline

import (
	"net"
	"sync/atomic"
	"time"
)

// Past is a deadline long past: setting it interrupts blocked I/O at once.
// Read-only.
var Past = time.Unix(1, 0)

// maxSlack bounds how much earlier than asked a renewed deadline may fire.
const maxSlack = time.Second

// Read is the read deadline of one connection. All changes to that
// deadline must go through it (or be followed by Forget). Its methods may
// be called from any goroutine.
type Read struct {
	conn net.Conn
	at   atomic.Int64 // unix nanoseconds of the deadline set; 0: none
}

// Init binds r to c, which has no read deadline.
func (r *Read) Init(c net.Conn) {
	r.conn = c
	r.at.Store(0)
}

// Renew makes the deadline now+timeout, keeping the one set if it is at
// most the slack earlier.
func (r *Read) Renew(now time.Time, timeout time.Duration) {
	// In unix nanoseconds: this runs a few times per request.
	want := now.UnixNano() + int64(timeout)
	slack := int64(min(timeout/10, maxSlack))
	if cur := r.at.Load(); cur != 0 && cur <= want && cur >= want-slack {
		return
	}
	r.Set(now.Add(timeout))
}

// Set sets the deadline to t; the zero time removes it.
func (r *Read) Set(t time.Time) error {
	if t.IsZero() {
		r.at.Store(0)
	} else {
		r.at.Store(t.UnixNano())
	}
	return r.conn.SetReadDeadline(t)
}

// Clear removes the deadline, if one is set.
func (r *Read) Clear() {
	if r.at.Load() != 0 {
		r.Set(time.Time{})
	}
}

// At reports the deadline set, in unix nanoseconds: 0 for none, -1 when
// unknown (Forget).
func (r *Read) At() int64 { return r.at.Load() }

// ClearIf removes the deadline if it is still at (as At reported it: a
// deadline, not 0 or -1), and reports whether it did: false when the
// deadline has been changed since, by whoever.
func (r *Read) ClearIf(at int64) bool {
	if at <= 0 || !r.at.CompareAndSwap(at, 0) {
		return false
	}
	r.conn.SetReadDeadline(time.Time{})
	return true
}

// Forget records that the deadline was changed behind r's back: the next
// Renew sets it.
func (r *Read) Forget() { r.at.Store(-1) }
