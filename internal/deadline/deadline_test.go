package deadline

import (
	"net"
	"testing"
	"time"
)

// counting counts the deadlines set on a real connection.
type counting struct {
	net.Conn
	sets []time.Time
}

func (c *counting) SetReadDeadline(t time.Time) error {
	c.sets = append(c.sets, t)
	return c.Conn.SetReadDeadline(t)
}

// countingRead returns a Read bound to one end of a pipe that counts the
// deadlines set on it; the pipe is closed when the test ends.
func countingRead(t *testing.T) (*Read, *counting) {
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	c := &counting{Conn: a}
	r := new(Read)
	r.Init(c)
	return r, c
}

func TestRenewSetsOnlyWhenTheDeadlineMoves(t *testing.T) {
	r, c := countingRead(t)
	now := time.Now()
	r.Renew(now, 10*time.Second)
	r.Renew(now.Add(500*time.Millisecond), 10*time.Second) // within a second: kept
	r.Renew(now.Add(900*time.Millisecond), 10*time.Second)
	if len(c.sets) != 1 {
		t.Fatalf("%d deadlines set, want 1", len(c.sets))
	}
	r.Renew(now.Add(1100*time.Millisecond), 10*time.Second) // moved more than a second
	r.Renew(now.Add(1100*time.Millisecond), time.Second)    // earlier than the one set
	r.Renew(now.Add(1100*time.Millisecond), 2*time.Second)  // later: the slack is 200ms
	if len(c.sets) != 4 {
		t.Fatalf("%d deadlines set, want 4", len(c.sets))
	}
	r.Renew(now.Add(1250*time.Millisecond), 2*time.Second) // within a tenth of 2s: kept
	r.Renew(now.Add(1400*time.Millisecond), 2*time.Second) // past it
	if len(c.sets) != 5 {
		t.Fatalf("%d deadlines set, want 5", len(c.sets))
	}

	r.Clear()
	r.Clear() // nothing set: no call
	if len(c.sets) != 6 || !c.sets[5].IsZero() {
		t.Fatalf("Clear: deadlines set %v", c.sets)
	}
	r.Forget() // changed behind r's back: the next Renew and Clear act
	r.Renew(now, 10*time.Second)
	r.Forget()
	r.Clear()
	if len(c.sets) != 8 {
		t.Fatalf("after Forget: %d deadlines set, want 8", len(c.sets))
	}
}

// The deadline Renew keeps still interrupts a read.
func TestRenewedDeadlineStillFires(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	var r Read
	r.Init(a)
	r.Renew(time.Now(), 100*time.Millisecond)
	r.Renew(time.Now(), 100*time.Millisecond)
	begin := time.Now()
	if _, err := a.Read(make([]byte, 1)); err == nil {
		t.Fatal("read returned without an error")
	}
	if d := time.Since(begin); d > time.Second {
		t.Fatalf("read interrupted after %v", d)
	}
}

// ClearIf removes only the deadline At reported, not one set since.
func TestClearIfOnlyTheDeadlineSeen(t *testing.T) {
	r, c := countingRead(t)
	if r.ClearIf(r.At()) { // none set
		t.Fatal("ClearIf removed a deadline when none was set")
	}
	now := time.Now()
	r.Renew(now, 10*time.Second)
	seen := r.At()
	r.Set(now.Add(time.Minute)) // set since (a handler's)
	if r.ClearIf(seen) || len(c.sets) != 2 {
		t.Fatalf("ClearIf removed a deadline set since: deadlines set %v", c.sets)
	}
	if !r.ClearIf(r.At()) || len(c.sets) != 3 || !c.sets[2].IsZero() || r.At() != 0 {
		t.Fatalf("ClearIf of the deadline set: deadlines set %v, At %d", c.sets, r.At())
	}
}
