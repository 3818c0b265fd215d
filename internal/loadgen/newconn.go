package loadgen

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"time"
)

// StreamOptions shape a stream of new connections.
type StreamOptions struct {
	URL      string // e.g. "http://127.0.0.1:8080/"
	Host     string // Host header
	Rate     int    // new connections per second (at most; a slow answer delays its worker)
	Workers  int    // concurrent connections at most (default 8)
	BodySize int    // expected response body size in bytes (0: any)
	Payload  int    // request body size in bytes (POST)
}

// Stream is a running stream of new connections: each carries one
// non-replayable POST with "Connection: close".
type Stream struct {
	rec *recorder
	wg  sync.WaitGroup
}

// StartStream starts opts.Rate connections per second, spread over
// opts.Workers workers, until ctx ends.
func StartStream(ctx context.Context, opts StreamOptions) *Stream {
	s := &Stream{rec: newRecorder(KindNewConn)}
	if opts.Rate <= 0 {
		return s
	}
	if opts.Workers <= 0 {
		opts.Workers = 8
	}
	payload := bytes.Repeat([]byte("p"), opts.Payload)
	// No keep-alive: every request dials, and nothing is ever retried on
	// another connection.
	tr := &http.Transport{DisableKeepAlives: true, DisableCompression: true, Proxy: nil}
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	ticks := make(chan struct{})
	s.wg.Add(1)
	go func() { // the pacer: one tick per connection to open
		defer s.wg.Done()
		defer close(ticks)
		t := time.NewTicker(time.Second / time.Duration(opts.Rate))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				select {
				case ticks <- struct{}{}:
				default: // every worker is busy: the rate drops
				}
			}
		}
	}()
	for i := 0; i < opts.Workers; i++ {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			var lat []time.Duration
			for range ticks {
				t0 := time.Now()
				if reason := post(c, opts.URL, opts.Host, payload, opts.BodySize, true); reason != "" {
					s.rec.fail(t0, reason)
					continue
				}
				s.rec.ok()
				lat = append(lat, time.Since(t0))
			}
			s.rec.latencies(lat)
		}()
	}
	return s
}

// Wait blocks until the stream has stopped and returns the result.
func (s *Stream) Wait() Result {
	s.wg.Wait()
	s.rec.stop()
	return s.rec.result()
}
