package h1

import (
	"slices"
	"sync"
	"time"
)

// A connection's goroutine grows its stack as it serves its first request,
// and Go copies the stack at each doubling (2 → 4 → 8 KiB for a proxied
// request): on short connections that was a tenth of the user CPU. So the
// goroutine of an ended connection waits a while for the next accepted one
// instead of exiting, and a new connection is handed to the most recently
// parked of them; only when none waits does it get a new goroutine.
const (
	// maxIdleWorkers bounds the parked goroutines (each holds its stack,
	// about 8 KiB).
	maxIdleWorkers = 1024
	// maxWorkerIdle is how long a goroutine stays parked at least; a sweep
	// every maxWorkerIdle, while any are parked, lets older ones go, so a
	// burst's goroutines do not stay.
	maxWorkerIdle = 10 * time.Second
)

// workers is the set of parked connection goroutines of one Server.
type workers struct {
	mu       sync.Mutex
	idle     []*worker // the most recently parked last
	closed   bool      // Serve returned: no more parking
	sweeping bool      // a sweep is scheduled
}

// worker is a parked goroutine, waiting on next for a connection (nil:
// exit).
type worker struct {
	next  chan *conn
	since time.Time
}

// give hands c to a parked goroutine and reports whether there was one.
func (ws *workers) give(c *conn) bool {
	ws.mu.Lock()
	n := len(ws.idle)
	if n == 0 {
		ws.mu.Unlock()
		return false
	}
	w := ws.idle[n-1]
	ws.idle[n-1] = nil
	ws.idle = ws.idle[:n-1]
	ws.mu.Unlock()
	w.next <- c
	return true
}

// sweep lets go the goroutines parked longer than maxWorkerIdle, and is
// scheduled again while any stay parked.
func (ws *workers) sweep() {
	ws.mu.Lock()
	cut := time.Now().Add(-maxWorkerIdle)
	n := 0
	for n < len(ws.idle) && ws.idle[n].since.Before(cut) {
		n++
	}
	old := slices.Clone(ws.idle[:n])
	clear(ws.idle[:n])
	ws.idle = ws.idle[n:]
	ws.sweeping = len(ws.idle) > 0 && !ws.closed
	if ws.sweeping {
		time.AfterFunc(maxWorkerIdle, ws.sweep)
	}
	ws.mu.Unlock()
	for _, w := range old {
		w.next <- nil
	}
}

// park adds w to the parked goroutines and reports whether it was taken
// (false: the goroutine exits).
func (ws *workers) park(w *worker) bool {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.closed || len(ws.idle) >= maxIdleWorkers {
		return false
	}
	w.since = time.Now()
	ws.idle = append(ws.idle, w)
	if !ws.sweeping {
		ws.sweeping = true
		time.AfterFunc(maxWorkerIdle, ws.sweep)
	}
	return true
}

// close lets every parked goroutine go and stops the parking.
func (ws *workers) close() {
	ws.mu.Lock()
	idle := ws.idle
	ws.idle, ws.closed = nil, true
	ws.mu.Unlock()
	for _, w := range idle {
		w.next <- nil
	}
}

// work serves c, then each connection it is given until it is let go.
func (s *Server) work(c *conn) {
	w := &worker{next: make(chan *conn, 1)}
	for c != nil {
		c.serveAndClose()
		if !s.workers.park(w) {
			return
		}
		c = <-w.next
	}
}

// serveAndClose serves c until it ends, then closes it, also when the
// handler ends its goroutine (runtime.Goexit; serve recovers panics).
func (c *conn) serveAndClose() {
	defer c.close()
	c.serve()
}
