package main

import (
	"context"
	"time"
)

// The machines this benchmark runs on are shared: other jobs' builds and
// tests take cores without warning, and the hypervisor gives our virtual
// cores' time to other guests (steal). Each measured run therefore waits
// for a quiet machine first, and a run during which others took more than
// the threshold on the proxy's or the load's cores is repeated; the
// quietest attempt is kept and the report says how many were noisy.

// quietness is how a sample's run went with respect to other load.
type quietness struct {
	waited   time.Duration // waiting for a quiet machine before the kept attempt's run
	attempts int           // runs made for this sample
}

// noise is the larger of the other loads on the proxy's and the load's
// cores, in cores. For direct (no proxy) the proxy's core is idle and
// others may use it freely, so only the load's cores count; unpinned, the
// one machine-wide figure counts.
func (s sample) noise(direct bool) float64 {
	if direct {
		return s.cores(s.otherLoad)
	}
	return max(s.cores(s.otherProxy), s.cores(s.otherLoad))
}

// measureQuietly runs h.measure up to 1+retries times while the run is
// noisy, waiting for a quiet machine before each, and returns the quietest
// attempt.
func (h *harness) measureQuietly(ctx context.Context, proxy string, c benchCase, rs routeSet, script string) sample {
	var best sample
	for attempt := 1; attempt <= 1+h.opts.retries; attempt++ {
		waited := waitQuiet(ctx, h.opts.quiet, h.opts.quietWait)
		s := h.measure(ctx, proxy, c, rs, script)
		s.quiet = quietness{waited: waited, attempts: attempt}
		if attempt == 1 || s.err == "" && (best.err != "" || s.noise(proxy == "direct") < best.noise(proxy == "direct")) {
			best = s
		}
		best.quiet.attempts = attempt
		if s.err != "" || h.opts.quiet <= 0 || s.noise(proxy == "direct") <= h.opts.quiet || ctx.Err() != nil {
			break
		}
	}
	return best
}

// waitQuiet returns once the whole machine used at most threshold cores
// over one second (our own processes are idle between runs), or after
// maxWait. It returns how long it waited; threshold 0 turns it off.
func waitQuiet(ctx context.Context, threshold float64, maxWait time.Duration) time.Duration {
	if threshold <= 0 {
		return 0
	}
	start := time.Now()
	for ctx.Err() == nil {
		b0 := readCPUStat().busy(nil)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
		if (readCPUStat().busy(nil)-b0).Seconds() <= threshold || time.Since(start) >= maxWait {
			break
		}
	}
	return time.Since(start)
}
