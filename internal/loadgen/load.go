// Package loadgen generates honest HTTP and WebSocket load for benchmarks
// and the zero-failure tests. No client ever retries: keep-alive clients
// each hold their own connection and send POST requests whose bodies cannot
// be replayed, so Go's HTTP client never retries a failed request behind
// our back (see PERF.md); new-connection clients send one such request per
// connection; WebSocket sessions count a session lost, never redial it. A
// request fails if the transport errors, the status is not 200 or the body
// is not the expected size. Every failure is kept with its start and end
// time, so a scenario can tell which were in flight at a given moment.
package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// Load is a running keep-alive load against one URL and Host.
type Load struct {
	opts    Options
	payload []byte
	rec     *recorder
	wg      sync.WaitGroup
}

// Options shape a keep-alive load.
type Options struct {
	URL      string // e.g. "http://127.0.0.1:8080/"
	Host     string // Host header
	Clients  int    // concurrent keep-alive connections
	BodySize int    // expected response body size in bytes (0: any)
	Payload  int    // request body size in bytes (POST)
}

// Start starts opts.Clients clients; they run until ctx ends.
func Start(ctx context.Context, opts Options) *Load {
	l := &Load{opts: opts, payload: bytes.Repeat([]byte("p"), opts.Payload), rec: newRecorder(KindKeepAlive)}
	for i := 0; i < opts.Clients; i++ {
		l.wg.Add(1)
		go l.client(ctx)
	}
	return l
}

// Wait blocks until every client has stopped and returns the result.
func (l *Load) Wait() Result {
	l.wg.Wait()
	l.rec.stop()
	return l.rec.result()
}

// Result returns the counts so far (latencies only after Wait).
func (l *Load) Result() Result { return l.rec.result() }

func (l *Load) client(ctx context.Context) {
	defer l.wg.Done()
	tr := &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1, DisableCompression: true, Proxy: nil}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var lat []time.Duration
	for ctx.Err() == nil {
		t0 := time.Now()
		if reason := post(c, l.opts.URL, l.opts.Host, l.payload, l.opts.BodySize, false); reason != "" {
			l.rec.fail(t0, reason)
			continue
		}
		l.rec.ok()
		lat = append(lat, time.Since(t0))
	}
	l.rec.latencies(lat)
}

// post sends one POST whose body cannot be replayed and reads the answer.
// It returns "" on a 200 with a body of want bytes (any size if want is 0),
// else why the request failed. closeConn asks for "Connection: close".
func post(c *http.Client, url, host string, payload []byte, want int, closeConn bool) string {
	// A body without GetBody is not replayable: the client will not retry
	// this request on a fresh connection if the first one fails.
	req, err := http.NewRequest(http.MethodPost, url, io.NopCloser(bytes.NewReader(payload)))
	if err != nil {
		return "request: " + err.Error()
	}
	req.ContentLength = int64(len(payload))
	req.GetBody = nil
	req.Host = host
	req.Close = closeConn
	resp, err := c.Do(req)
	if err != nil {
		return "transport: " + shorten(err.Error())
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch {
	case err != nil:
		return "body: " + shorten(err.Error())
	case resp.StatusCode != http.StatusOK:
		return fmt.Sprintf("status %d", resp.StatusCode)
	case want > 0 && n != int64(want):
		return fmt.Sprintf("body of %d bytes, want %d", n, want)
	}
	return ""
}
