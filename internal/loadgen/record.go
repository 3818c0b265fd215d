package loadgen

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Kinds of client, as named in a Failure.
const (
	KindKeepAlive = "keep-alive" // a request on a kept-alive connection
	KindNewConn   = "new-conn"   // a request on a connection of its own
	KindWebSocket = "websocket"  // a WebSocket session
)

// Failure is one failed request or WebSocket session.
type Failure struct {
	Kind   string    // KindKeepAlive, KindNewConn or KindWebSocket
	Start  time.Time // when the request was sent or the session dialled
	At     time.Time // when the failure was seen
	Reason string
}

// maxFailures bounds the failures a recorder keeps one by one; counts and
// reasons are always complete.
const maxFailures = 10000

// recorder counts the outcomes of one kind of client; safe for concurrent
// use.
type recorder struct {
	kind          string
	started       time.Time
	total, failed atomic.Int64
	mu            sync.Mutex
	reasons       map[string]int
	failures      []Failure
	lat           []time.Duration
	elapsed       time.Duration
}

func newRecorder(kind string) *recorder {
	return &recorder{kind: kind, started: time.Now(), reasons: map[string]int{}}
}

// ok counts a success.
func (r *recorder) ok() { r.total.Add(1) }

// fail counts a failure of something started at start.
func (r *recorder) fail(start time.Time, reason string) {
	now := time.Now()
	r.total.Add(1)
	r.failed.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reasons[reason]++
	if len(r.failures) < maxFailures {
		r.failures = append(r.failures, Failure{Kind: r.kind, Start: start, At: now, Reason: reason})
	}
}

// latencies adds one client's successful latencies (once, when it stops).
func (r *recorder) latencies(lat []time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lat = append(r.lat, lat...)
}

// stop records the elapsed time; call it once every client has stopped.
func (r *recorder) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.elapsed = time.Since(r.started)
}

// result returns the counts so far (latencies once the clients stopped).
func (r *recorder) result() Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := Result{Total: r.total.Load(), Failed: r.failed.Load(), Reasons: maps(r.reasons), Elapsed: r.elapsed,
		Failures: slices.Clone(r.failures)}
	if len(r.lat) > 0 {
		s := slices.Clone(r.lat)
		slices.Sort(s)
		res.P50, res.P99 = s[len(s)/2], s[len(s)*99/100]
	}
	return res
}

// shorten drops the varying addresses from a Go net error.
func shorten(s string) string {
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.Count(s, ":") > 3 {
		return s[i+2:]
	}
	return s
}

// Result summarises a load of one kind of client.
type Result struct {
	Total, Failed int64
	Reasons       map[string]int // failure reason → count
	Failures      []Failure      // each failure (the first 10 000), in no particular order
	Elapsed       time.Duration
	P50, P99      time.Duration // of successful requests
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

// ReasonList returns the reasons as "count reason" strings, most frequent
// first.
func ReasonList(reasons map[string]int) []string {
	keys := make([]string, 0, len(reasons))
	for k := range reasons {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if reasons[keys[i]] != reasons[keys[j]] {
			return reasons[keys[i]] > reasons[keys[j]]
		}
		return keys[i] < keys[j]
	})
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = fmt.Sprintf("%d× %s", reasons[k], k)
	}
	return out
}
