package loadgen

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// MixOptions shape the traffic of a churn scenario: keep-alive clients, a
// stream of new connections and WebSocket sessions, all to one service.
type MixOptions struct {
	Addr       string        // the proxy's HTTP entry point, "127.0.0.1:8080"
	Host       string        // the service's host
	Clients    int           // keep-alive clients
	NewConns   int           // new connections per second
	WebSockets int           // WebSocket sessions open at any time
	WSLifetime time.Duration // a session's length before its client closes it (default 5s)
	BodySize   int           // expected response body size
	Payload    int           // request body size (POST)
}

// Mix is a running mix of the three kinds of client.
type Mix struct {
	load   *Load
	stream *Stream
	ws     *WebSockets
}

// StartMix starts every client of opts; they run until ctx ends.
func StartMix(ctx context.Context, opts MixOptions) *Mix {
	url := "http://" + opts.Addr + "/"
	return &Mix{
		load: Start(ctx, Options{URL: url, Host: opts.Host, Clients: opts.Clients, BodySize: opts.BodySize,
			Payload: opts.Payload}),
		stream: StartStream(ctx, StreamOptions{URL: url, Host: opts.Host, Rate: opts.NewConns,
			BodySize: opts.BodySize, Payload: opts.Payload}),
		ws: StartWebSockets(ctx, WSOptions{URL: "ws://" + opts.Addr + "/ws", Host: opts.Host,
			Sessions: opts.WebSockets, Lifetime: opts.WSLifetime}),
	}
}

// Wait blocks until every client has stopped and returns the results.
func (m *Mix) Wait() MixResult {
	return MixResult{KeepAlive: m.load.Wait(), NewConn: m.stream.Wait(), WebSocket: m.ws.Wait(),
		Messages: m.ws.Messages()}
}

// MixResult is what the clients of a Mix saw.
type MixResult struct {
	KeepAlive, NewConn, WebSocket Result
	Messages                      int64 // WebSocket messages echoed
}

// Total counts requests and WebSocket sessions.
func (r MixResult) Total() int64 { return r.KeepAlive.Total + r.NewConn.Total + r.WebSocket.Total }

// Failed counts failed requests and WebSocket sessions.
func (r MixResult) Failed() int64 { return r.KeepAlive.Failed + r.NewConn.Failed + r.WebSocket.Failed }

// Failures returns every kept failure, oldest first.
func (r MixResult) Failures() []Failure {
	var all []Failure
	for _, x := range []Result{r.KeepAlive, r.NewConn, r.WebSocket} {
		all = append(all, x.Failures...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].At.Before(all[j].At) })
	return all
}

// Reasons merges the failure reasons of the three kinds, each prefixed
// with its kind.
func (r MixResult) Reasons() map[string]int {
	out := map[string]int{}
	for kind, x := range map[string]Result{KindKeepAlive: r.KeepAlive, KindNewConn: r.NewConn, KindWebSocket: r.WebSocket} {
		for reason, n := range x.Reasons {
			out[kind+" "+reason] += n
		}
	}
	return out
}

// Summary is one line: each kind's failed/total, the request rate and the
// keep-alive latencies.
func (r MixResult) Summary() string {
	return fmt.Sprintf("keep-alive %d/%d (%.0f req/s, p50 %s, p99 %s), new-conn %d/%d, websocket sessions %d/%d (%d messages)",
		r.KeepAlive.Failed, r.KeepAlive.Total, r.KeepAlive.RPS(), r.KeepAlive.P50.Round(100*time.Microsecond),
		r.KeepAlive.P99.Round(100*time.Microsecond), r.NewConn.Failed, r.NewConn.Total,
		r.WebSocket.Failed, r.WebSocket.Total, r.Messages)
}

// SplitAt splits failures into those in flight at an event that began at
// from and was over at to (sent before to, seen at or after from and
// within window after to) and the others. For a backend killed, from is
// the signal and to the moment the process was gone: a request sent in
// between may have reached the backend before it died.
func SplitAt(failures []Failure, from, to time.Time, window time.Duration) (inFlight, other []Failure) {
	for _, f := range failures {
		if f.Start.Before(to) && !f.At.Before(from) && f.At.Sub(to) <= window {
			inFlight = append(inFlight, f)
		} else {
			other = append(other, f)
		}
	}
	return inFlight, other
}
