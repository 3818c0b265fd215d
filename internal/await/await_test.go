package await

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/webrouter/webrouter/internal/testbed"
)

// TestWriteThenAnswer: the message arrives whole, after runs once the write
// is done and before the answer, and WriteAwait returns only when the
// answer can be read; the same Conn serves call after call.
func TestWriteThenAnswer(t *testing.T) {
	c, s := testbed.TCPPair(t)
	aw := New(c)
	if aw == nil {
		t.Fatal("no awaiter for a TCP connection")
	}
	for round := 0; round < 2; round++ {
		answered := make(chan time.Time, 1)
		go func() {
			buf := make([]byte, 5)
			if _, err := io.ReadFull(s, buf); err != nil || string(buf) != "hello" {
				t.Errorf("server read %q, %v", buf, err)
			}
			time.Sleep(50 * time.Millisecond)
			answered <- time.Now()
			s.Write([]byte("world"))
		}()
		var afterAt time.Time
		n, err := aw.WriteAwait([]byte("hello"), nil, func() { afterAt = time.Now() })
		returned := time.Now()
		if n != 5 || err != nil {
			t.Fatalf("round %d: WriteAwait = %d, %v", round, n, err)
		}
		at := <-answered
		if afterAt.IsZero() || !afterAt.Before(at) {
			t.Errorf("round %d: after ran at %v, the answer came at %v", round, afterAt, at)
		}
		if returned.Before(at) {
			t.Errorf("round %d: returned %v before the answer was sent", round, at.Sub(returned))
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		buf := make([]byte, 5)
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "world" {
			t.Fatalf("round %d: read %q, %v", round, buf, err)
		}
	}
}

// TestDeadlineEndsTheWait: a read deadline ends the wait; the write's
// success is what WriteAwait reports, and the read that follows times out.
func TestDeadlineEndsTheWait(t *testing.T) {
	c, s := testbed.TCPPair(t)
	aw := New(c)
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	start := time.Now()
	n, err := aw.WriteAwait([]byte("ping"), nil, nil)
	if n != 4 || err != nil {
		t.Fatalf("WriteAwait = %d, %v; want 4, nil", n, err)
	}
	if d := time.Since(start); d < 40*time.Millisecond || d > 5*time.Second {
		t.Errorf("waited %v for a 50ms deadline", d)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read after the wait: %v, want the deadline", err)
	}
	buf := make([]byte, 4)
	s.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := io.ReadFull(s, buf); err != nil || string(buf) != "ping" {
		t.Errorf("server read %q, %v", buf, err)
	}
}

// TestPassedDeadlineWritesNothing: when the wait cannot begin, nothing is
// written and the reason is returned.
func TestPassedDeadlineWritesNothing(t *testing.T) {
	c, s := testbed.TCPPair(t)
	aw := New(c)
	c.SetReadDeadline(time.Now().Add(-time.Second))
	if n, err := aw.WriteAwait([]byte("ping"), nil, func() { t.Error("after ran") }); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("WriteAwait = %d, %v; want 0 and the deadline", n, err)
	}
	s.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, err := s.Read(make([]byte, 4)); n != 0 {
		t.Errorf("server read %d bytes (%v), want none", n, err)
	}
}

// TestPeerCloses: the peer's close ends the wait (end of stream is
// readable) and a write to a reset connection fails.
func TestPeerCloses(t *testing.T) {
	c, s := testbed.TCPPair(t)
	aw := New(c)
	go func() {
		io.ReadFull(s, make([]byte, 4))
		s.Close()
	}()
	if n, err := aw.WriteAwait([]byte("ping"), nil, nil); n != 4 || err != nil {
		t.Fatalf("WriteAwait = %d, %v", n, err)
	}
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("read after the peer closed: %v, want EOF", err)
	}
	var err error
	for i := 0; i < 10 && err == nil; i++ { // the first write may still be taken; then the reset
		_, err = aw.WriteAwait([]byte("ping"), nil, nil)
	}
	if err == nil {
		t.Error("writes to a closed peer kept succeeding")
	}
}

// TestLargerThanTheSocketTakes: a message the socket buffer cannot take at
// once is written whole all the same (without the wait).
func TestLargerThanTheSocketTakes(t *testing.T) {
	msg := bytes.Repeat([]byte("0123456789abcdef"), 256<<10) // 4 MiB
	// Written as one buffer, and as two split at a few places: the
	// second's start, and the socket filling up in either.
	for _, split := range []int{len(msg), 0, 100, len(msg) - 100} {
		c, s := testbed.TCPPair(t)
		c.(*net.TCPConn).SetWriteBuffer(16 << 10)
		s.(*net.TCPConn).SetReadBuffer(16 << 10)
		aw := New(c)
		got := make(chan []byte, 1)
		go func() {
			time.Sleep(50 * time.Millisecond) // let the buffers fill
			b, _ := io.ReadAll(s)
			got <- b
		}()
		afterRan := false
		n, err := aw.WriteAwait(msg[:split], msg[split:], func() { afterRan = true })
		if n != len(msg) || err != nil {
			t.Fatalf("split at %d: WriteAwait = %d of %d, %v", split, n, len(msg), err)
		}
		if !afterRan {
			t.Errorf("split at %d: after did not run", split)
		}
		c.Close()
		if b := <-got; !bytes.Equal(b, msg) {
			t.Errorf("split at %d: server got %d bytes, want the %d written", split, len(b), len(msg))
		}
	}
}

// TestTwoBuffers: a head and a body written together reach the peer in
// order, and the wait ends with the answer.
func TestTwoBuffers(t *testing.T) {
	c, s := testbed.TCPPair(t)
	aw := New(c)
	go func() {
		b := make([]byte, 9)
		if _, err := io.ReadFull(s, b); err == nil && string(b) == "head body" {
			s.Write([]byte("answer"))
		}
	}()
	if n, err := aw.WriteAwait([]byte("head "), []byte("body"), nil); n != 9 || err != nil {
		t.Fatalf("WriteAwait = %d, %v; want 9, nil", n, err)
	}
	b := make([]byte, 16)
	if n, err := c.Read(b); err != nil || string(b[:n]) != "answer" {
		t.Fatalf("after the wait, Read = %q, %v; want the answer", b[:n], err)
	}
}

// TestNotASocket: a connection without a descriptor has no awaiter.
func TestNotASocket(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if New(a) != nil {
		t.Error("net.Pipe got an awaiter")
	}
}

// TestEarly: what the peer sent after the last read and before the wait
// was prepared raises no readiness the wait sees. With Early, WriteAwait
// looks first and does not wait; without it, only the deadline ends the
// wait (why a client connection sets Early).
func TestEarly(t *testing.T) {
	for _, early := range []bool{true, false} {
		for _, sent := range []string{"next", ""} { // data, or the end of the peer's side
			c, s := testbed.TCPPair(t)
			aw := New(c)
			aw.Early = early
			// A first exchange, answered once read (as a backend does),
			// whose answer is read: the netpoller has seen the connection
			// readable and the read consumed it.
			go func() {
				if _, err := io.ReadFull(s, make([]byte, 3)); err == nil {
					s.Write([]byte("hi"))
				}
			}()
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := aw.WriteAwait([]byte("one"), nil, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(c, make([]byte, 2)); err != nil {
				t.Fatal(err)
			}
			// The peer speaks before the next write.
			if sent != "" {
				s.Write([]byte(sent))
			} else {
				s.(*net.TCPConn).CloseWrite()
			}
			time.Sleep(20 * time.Millisecond) // the netpoller takes that readiness
			c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			start := time.Now()
			if _, err := aw.WriteAwait([]byte("two"), nil, nil); err != nil {
				t.Fatal(err)
			}
			waited := time.Since(start)
			switch {
			case early && waited > 200*time.Millisecond:
				t.Errorf("Early, peer sent %q: waited %v for the deadline", sent, waited)
			case !early && waited < 250*time.Millisecond:
				t.Errorf("not Early, peer sent %q: returned after %v; the lost readiness this test stands on did not happen", sent, waited)
			}
			if early {
				c.SetReadDeadline(time.Now().Add(time.Second))
				b := make([]byte, len(sent)+1)
				n, err := c.Read(b) // what came, or the end of the peer's side
				if sent == "" && err == io.EOF {
					err = nil
				}
				if string(b[:n]) != sent || err != nil {
					t.Errorf("Early: read %q, %v after the wait; want %q", b[:n], err, sent)
				}
			}
		}
	}
}
