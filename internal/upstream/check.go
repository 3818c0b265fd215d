package upstream

import (
	"fmt"
	"time"
)

// Check is how an address is actively probed. It is comparable: two
// services asking for the same probe share one checker.
type Check struct {
	Path     string // HTTP path (with query); "" means a TCP connect
	Host     string // Host header for HTTP probes; "" means the address
	Status   string // accepted statuses, e.g. "200-399"
	Interval time.Duration
	Timeout  time.Duration
	Rise     int // consecutive successes that bring the address up
	Fall     int // consecutive failures that take it down
}

func (c Check) String() string {
	what := "tcp"
	if c.Path != "" {
		what = "GET " + c.Path
	}
	return fmt.Sprintf("%s every %s (timeout %s, rise %d, fall %d)", what, c.Interval, c.Timeout, c.Rise, c.Fall)
}

// CheckWatcher is told when the probe an address needs changes: check is
// nil when no service wants one any more, and fresh is true when the
// address is new to the Set. Calls come from the goroutine that changes the
// Set (the compiler), one at a time, and must not block.
type CheckWatcher interface {
	CheckChanged(h *Host, check *Check, fresh bool)
}
