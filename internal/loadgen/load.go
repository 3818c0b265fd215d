// Package loadgen generates honest HTTP load for benchmarks and the
// zero-failure tests: every client holds its own keep-alive connection and
// sends POST requests whose bodies cannot be replayed, so Go's HTTP client
// never retries a failed request behind our back (see PERF.md). A request
// fails if the transport errors, the status is not 200 or the body is not
// the expected size.
package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Load is a running load against one URL and Host.
type Load struct {
	url, host string
	want      int // expected response body size
	payload   []byte

	total, failed atomic.Int64
	mu            sync.Mutex
	reasons       map[string]int
	lat           []time.Duration
	wg            sync.WaitGroup
	started       time.Time
	elapsed       time.Duration
}

// Options shape a load.
type Options struct {
	URL      string // e.g. "http://127.0.0.1:8080/"
	Host     string // Host header
	Clients  int    // concurrent keep-alive connections
	BodySize int    // expected response body size in bytes
	Payload  int    // request body size in bytes (POST)
}

// Start starts opts.Clients clients; they run until ctx ends.
func Start(ctx context.Context, opts Options) *Load {
	l := &Load{url: opts.URL, host: opts.Host, want: opts.BodySize, payload: bytes.Repeat([]byte("p"), opts.Payload),
		reasons: map[string]int{}, started: time.Now()}
	for i := 0; i < opts.Clients; i++ {
		l.wg.Add(1)
		go l.client(ctx)
	}
	return l
}

// Wait blocks until every client has stopped and returns the result.
func (l *Load) Wait() Result {
	l.wg.Wait()
	l.elapsed = time.Since(l.started)
	return l.Result()
}

func (l *Load) client(ctx context.Context) {
	defer l.wg.Done()
	tr := &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1, DisableCompression: true, Proxy: nil}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var lat []time.Duration
	for ctx.Err() == nil {
		// A body without GetBody is not replayable: the client will not
		// retry this request on a fresh connection if the first one fails.
		req, _ := http.NewRequest(http.MethodPost, l.url, io.NopCloser(bytes.NewReader(l.payload)))
		req.ContentLength = int64(len(l.payload))
		req.GetBody = nil
		req.Host = l.host
		t0 := time.Now()
		resp, err := c.Do(req)
		if err != nil {
			l.fail("transport: " + shorten(err.Error()))
			continue
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch {
		case err != nil:
			l.fail("body: " + shorten(err.Error()))
		case resp.StatusCode != http.StatusOK:
			l.fail(fmt.Sprintf("status %d", resp.StatusCode))
		case l.want > 0 && n != int64(l.want):
			l.fail(fmt.Sprintf("body of %d bytes, want %d", n, l.want))
		default:
			l.total.Add(1)
			lat = append(lat, time.Since(t0))
		}
	}
	l.mu.Lock()
	l.lat = append(l.lat, lat...)
	l.mu.Unlock()
}

func (l *Load) fail(reason string) {
	l.total.Add(1)
	l.failed.Add(1)
	l.mu.Lock()
	l.reasons[reason]++
	l.mu.Unlock()
}

// shorten drops the varying addresses from a Go net error.
func shorten(s string) string {
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.Count(s, ":") > 3 {
		return s[i+2:]
	}
	return s
}

// Result summarises a finished load.
type Result struct {
	Total, Failed int64
	Reasons       map[string]int
	Elapsed       time.Duration
	P50, P99      time.Duration
}

// Result returns the counts so far (latencies only after Wait).
func (l *Load) Result() Result {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := Result{Total: l.total.Load(), Failed: l.failed.Load(), Reasons: maps(l.reasons), Elapsed: l.elapsed}
	if len(l.lat) > 0 {
		s := slices.Clone(l.lat)
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		r.P50, r.P99 = s[len(s)/2], s[len(s)*99/100]
	}
	return r
}

func maps(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// RPS is requests per second over the elapsed time.
func (r Result) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Total) / r.Elapsed.Seconds()
}
