package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// wrkResult is what one wrk run reports through the Lua done() hook.
type wrkResult struct {
	Requests   int64   `json:"requests"`
	DurationUS int64   `json:"duration_us"`
	Bytes      int64   `json:"bytes"`
	Connect    int64   `json:"connect"`
	Read       int64   `json:"read"`
	Write      int64   `json:"write"`
	Status     int64   `json:"status"` // responses with status > 399
	Timeout    int64   `json:"timeout"`
	P50        float64 `json:"p50"` // microseconds
	P99        float64 `json:"p99"`
	P999       float64 `json:"p999"`
	Max        float64 `json:"max"`

	cpu time.Duration // wrk's own user+system time
}

// socketErrors counts connect, read, write and timeout errors.
func (r wrkResult) socketErrors() int64 { return r.Connect + r.Read + r.Write + r.Timeout }

// rps is requests per second.
func (r wrkResult) rps() float64 {
	if r.DurationUS == 0 {
		return 0
	}
	return float64(r.Requests) / (float64(r.DurationUS) / 1e6)
}

// wrkScript writes the Lua script for a case: method, body, Host and
// Connection headers, one precomputed request per host (requests cycle
// through the hosts), and a done() hook printing the result as one JSON
// line prefixed with "WRKJSON ".
func wrkScript(dir string, c benchCase, hosts []string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "wrk.method = %q\n", c.method)
	if c.payload > 0 {
		fmt.Fprintf(&b, "wrk.body = string.rep(\"p\", %d)\n", c.payload)
	}
	if c.close {
		b.WriteString("wrk.headers[\"Connection\"] = \"close\"\n")
	}
	b.WriteString("local hosts = {\n")
	for _, h := range hosts {
		fmt.Fprintf(&b, "  %q,\n", h)
	}
	b.WriteString(`}
local reqs = {}
local n = 0
init = function(args)
  for i, h in ipairs(hosts) do
    local hdrs = {}
    for k, v in pairs(wrk.headers) do hdrs[k] = v end
    hdrs["Host"] = h
    reqs[i] = wrk.format(nil, nil, hdrs)
  end
  n = 0
end
request = function()
  n = n % #reqs + 1
  return reqs[n]
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50":%.1f,"p99":%.1f,"p999":%.1f,"max":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max))
end
`)
	path := filepath.Join(dir, c.name+".lua")
	return path, os.WriteFile(path, []byte(b.String()), 0o644)
}

// runWrk runs wrk for d against url with the script, prefixed by pin (a
// taskset command or nothing), and parses the done() line.
func runWrk(ctx context.Context, pin []string, script, url string, conns int, d time.Duration) (wrkResult, error) {
	secs := max(1, int(d.Round(time.Second)/time.Second))
	args := append(append([]string{}, pin...), "wrk", "-t1", fmt.Sprintf("-c%d", conns), fmt.Sprintf("-d%ds", secs),
		"--timeout", "10s", "-s", script, url)
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("%s: %w\n%s", strings.Join(args, " "), err, out)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if js, ok := strings.CutPrefix(sc.Text(), "WRKJSON "); ok {
			var r wrkResult
			if err := json.Unmarshal([]byte(js), &r); err != nil {
				return wrkResult{}, fmt.Errorf("wrk result %q: %w", js, err)
			}
			r.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
			return r, nil
		}
	}
	return wrkResult{}, fmt.Errorf("wrk printed no result:\n%s", out)
}
