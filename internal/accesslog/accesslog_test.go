package accesslog

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/webrouter/webrouter/internal/testbed"
)

func TestJSONLineHasEveryField(t *testing.T) {
	var buf testbed.Buffer
	l := New(&buf, "json", 16)
	l.Log(Record{
		Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Client: "10.1.1.1", Host: "demo.com", Method: "GET",
		Path: "/x", Status: 502, Bytes: 12, Service: "demo", Upstream: "10.0.0.5:80",
		UpstreamTime: 1500 * time.Microsecond, Duration: 2 * time.Millisecond, RequestID: "abc", Attempts: 2, Error: "refused",
	})
	l.Close()
	var got map[string]any
	if err := json.Unmarshal([]byte(buf.String()), &got); err != nil {
		t.Fatalf("not one JSON line: %q: %v", buf.String(), err)
	}
	want := map[string]any{
		"time": "2026-01-02T03:04:05Z", "msg": "access", "client": "10.1.1.1", "host": "demo.com", "method": "GET",
		"path": "/x", "status": 502.0, "bytes": 12.0, "service": "demo", "upstream": "10.0.0.5:80",
		"upstream_ms": 1.5, "total_ms": 2.0, "request_id": "abc", "attempts": 2.0, "error": "refused",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if _, ok := got["level"]; ok {
		t.Error("access line carries a level")
	}
}

// blockingWriter blocks every write until released, like a stalled disk.
type blockingWriter struct{ release chan struct{} }

func (w blockingWriter) Write(p []byte) (int, error) { <-w.release; return len(p), nil }

func TestFullQueueDropsInsteadOfBlocking(t *testing.T) {
	w := blockingWriter{release: make(chan struct{})}
	l := New(w, "text", 4)
	for i := 0; i < 100; i++ {
		l.Log(Record{Status: 200}) // must return although nothing can be written
	}
	// At most the queue plus the one record being written can be held.
	if d := l.Dropped(); d < 100-5 {
		t.Errorf("dropped %d of 100 with a queue of 4 and a stalled writer", d)
	}
	close(w.release)
	l.Close()
}
