package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// WSOptions shape WebSocket sessions against an echo endpoint.
type WSOptions struct {
	URL      string        // e.g. "ws://127.0.0.1:8080/ws"
	Host     string        // Host header
	Sessions int           // sessions open at any time
	Interval time.Duration // between two messages of a session (default 100ms)
	Lifetime time.Duration // a session's length before its client closes it normally (default 5s)
	Timeout  time.Duration // for the dial, each echo and the close (default 5s)
}

// WebSockets is a running set of WebSocket sessions. Each session dials
// through the router, sends a message every Interval and checks its echo,
// closes normally after Lifetime and is replaced by a new one. A session
// fails on a dial error (including an upgrade refused), an echo that does
// not come back within Timeout or differs, or a close that is not a
// normal close handshake; a failed session is counted and replaced, never
// retried. Total counts sessions, not messages.
type WebSockets struct {
	opts     WSOptions
	rec      *recorder
	messages atomic.Int64
	client   *http.Client
	wg       sync.WaitGroup
}

// StartWebSockets opens opts.Sessions sessions and keeps that many open
// until ctx ends; then each closes normally. The first sessions' lifetimes
// are staggered so that they do not all reconnect at once.
func StartWebSockets(ctx context.Context, opts WSOptions) *WebSockets {
	if opts.Interval <= 0 {
		opts.Interval = 100 * time.Millisecond
	}
	if opts.Lifetime <= 0 {
		opts.Lifetime = 5 * time.Second
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	// No keep-alive: an upgrade request is a GET, which Go's client would
	// silently retry on a fresh connection if a reused one failed.
	tr := &http.Transport{DisableKeepAlives: true, Proxy: nil}
	w := &WebSockets{opts: opts, rec: newRecorder(KindWebSocket), client: &http.Client{Transport: tr}}
	for i := 0; i < opts.Sessions; i++ {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			life := opts.Lifetime * time.Duration(i+1) / time.Duration(opts.Sessions)
			for seq := 0; ctx.Err() == nil; seq++ {
				w.session(ctx, fmt.Sprintf("s%d.%d", i, seq), life)
				life = opts.Lifetime
			}
		}()
	}
	return w
}

// Wait blocks until every session has ended and returns the result.
func (w *WebSockets) Wait() Result {
	w.wg.Wait()
	w.rec.stop()
	return w.rec.result()
}

// Messages is the number of messages echoed correctly so far.
func (w *WebSockets) Messages() int64 { return w.messages.Load() }

// session runs one session named id for life, or until ctx ends.
func (w *WebSockets) session(ctx context.Context, id string, life time.Duration) {
	start := time.Now()
	dctx, cancel := context.WithTimeout(context.Background(), w.opts.Timeout)
	c, _, err := websocket.Dial(dctx, w.opts.URL, &websocket.DialOptions{Host: w.opts.Host, HTTPClient: w.client})
	cancel()
	if err != nil {
		w.rec.fail(start, "dial: "+shorten(err.Error()))
		// Pace the next dial so a refused upgrade does not spin.
		sleep(ctx, w.opts.Interval)
		return
	}
	defer c.CloseNow()
	tick := time.NewTicker(w.opts.Interval)
	defer tick.Stop()
	end := time.NewTimer(life)
	defer end.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
		case <-end.C:
		case <-tick.C:
			msg := []byte(fmt.Sprintf("%s.%d", id, n))
			if reason := w.echo(c, msg); reason != "" {
				w.rec.fail(start, reason)
				return
			}
			w.messages.Add(1)
			continue
		}
		break
	}
	if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
		w.rec.fail(start, "close: "+closeReason(err))
		return
	}
	w.rec.ok()
}

// echo sends msg and reads its echo; it returns "" or why it failed.
func (w *WebSockets) echo(c *websocket.Conn, msg []byte) string {
	ctx, cancel := context.WithTimeout(context.Background(), w.opts.Timeout)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, msg); err != nil {
		return "write: " + closeReason(err)
	}
	_, got, err := c.Read(ctx)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("no echo within %s", w.opts.Timeout)
	case err != nil:
		return "read: " + closeReason(err)
	case !bytes.Equal(got, msg):
		return "echo mismatch"
	}
	return ""
}

// closeReason names a close status when there is one, else the error.
func closeReason(err error) string {
	if s := websocket.CloseStatus(err); s != -1 {
		return fmt.Sprintf("closed by the peer with %d %s", int(s), s)
	}
	return shorten(err.Error())
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
