// Package accesslog writes one line per proxied request, off the request
// path.
//
// Log only copies the record into a bounded queue; one goroutine formats
// and writes. When the queue is full (the output cannot keep up) records
// are dropped and counted, so a slow disk never slows traffic. Records
// carry the path without the query string, which may hold secrets.
package accesslog

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Record is one request.
type Record struct {
	Time         time.Time
	Client       string
	Host         string
	Method       string
	Path         string // without the query string
	Status       int
	Bytes        int64
	Service      string
	Upstream     string // backend address of the last attempt
	UpstreamTime time.Duration
	Duration     time.Duration
	RequestID    string
	Attempts     int
	Error        string
}

// Logger is an asynchronous access log.
type Logger struct {
	out     *slog.Logger
	queue   chan Record
	dropped atomic.Uint64
	done    chan struct{}
	once    sync.Once
}

// New starts a logger writing to w in the given format ("json" or "text").
// Close flushes and stops it.
func New(w io.Writer, format string, queue int) *Logger {
	var h slog.Handler
	opts := &slog.HandlerOptions{ReplaceAttr: dropLevel}
	if format == "json" {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	l := &Logger{out: slog.New(h), queue: make(chan Record, queue), done: make(chan struct{})}
	go l.run()
	return l
}

// dropLevel removes the level attribute: every access line is the same
// level, and a constant field is noise.
func dropLevel(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.LevelKey {
		return slog.Attr{}
	}
	return a
}

// Log queues r. It never blocks.
func (l *Logger) Log(r Record) {
	select {
	case l.queue <- r:
	default:
		l.dropped.Add(1)
	}
}

// Dropped returns how many records were dropped because the queue was full.
func (l *Logger) Dropped() uint64 { return l.dropped.Load() }

// Close writes what is queued and stops the logger. Log must not be called
// after Close.
func (l *Logger) Close() {
	l.once.Do(func() { close(l.queue) })
	<-l.done
}

func (l *Logger) run() {
	defer close(l.done)
	ctx := context.Background()
	for r := range l.queue {
		attrs := []slog.Attr{
			slog.String("client", r.Client),
			slog.String("host", r.Host),
			slog.String("method", r.Method),
			slog.String("path", r.Path),
			slog.Int("status", r.Status),
			slog.Int64("bytes", r.Bytes),
			slog.String("service", r.Service),
			slog.String("upstream", r.Upstream),
			slog.Float64("upstream_ms", ms(r.UpstreamTime)),
			slog.Float64("total_ms", ms(r.Duration)),
			slog.String("request_id", r.RequestID),
		}
		if r.Attempts > 1 {
			attrs = append(attrs, slog.Int("attempts", r.Attempts))
		}
		if r.Error != "" {
			attrs = append(attrs, slog.String("error", r.Error))
		}
		rec := slog.NewRecord(r.Time, slog.LevelInfo, "access", 0)
		rec.AddAttrs(attrs...)
		_ = l.out.Handler().Handle(ctx, rec)
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
