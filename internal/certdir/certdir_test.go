package certdir

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/certtest"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestWatcher(t *testing.T) {
	dir := t.TempDir()
	ca := certtest.MustCA("ca")
	a := ca.MustIssue(certtest.Options{Names: []string{"a.test"}})
	b := ca.MustIssue(certtest.Options{Names: []string{"b.test"}})
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("a.crt", a.CertPEM)
	write("a.key", a.KeyPEM)
	write("orphan.crt", b.CertPEM)
	write("wrong.crt", a.CertPEM)
	write("wrong.key", b.KeyPEM)
	write("notes.txt", "ignored")
	var logs syncBuf
	w := New(dir, 20*time.Millisecond, slog.New(slog.NewTextHandler(&logs, nil)))
	got, err := w.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got["a"] == nil || got["a"].Name != "a" {
		t.Fatalf("loaded %v", got)
	}
	if l := logs.String(); !strings.Contains(l, "name=orphan") || !strings.Contains(l, "name=wrong") || strings.Contains(l, "PRIVATE") {
		t.Errorf("log:\n%s", l)
	}

	out := make(chan map[string]*catalog.Certificate)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx, out)
	write("b.crt", b.CertPEM)
	write("b.key", b.KeyPEM)
	next := <-out
	if len(next) != 2 || next["b"] == nil {
		t.Fatalf("after adding b: %v", next)
	}
	os.Remove(filepath.Join(dir, "a.crt"))
	os.Remove(filepath.Join(dir, "a.key"))
	select {
	case next = <-out:
		if len(next) != 1 || next["b"] == nil {
			t.Fatalf("after removing a: %v", next)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("removal not noticed")
	}
	if n := strings.Count(logs.String(), "name=wrong"); n != 1 {
		t.Errorf("a persistent problem was logged %d times", n)
	}
}
