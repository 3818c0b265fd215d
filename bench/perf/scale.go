package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/webrouter/webrouter/internal/procfs"
	"github.com/webrouter/webrouter/internal/testbed"
)

// scaleRow is webrouter's control plane with one table size loaded.
type scaleRow struct {
	label      string
	instances  int
	services   int
	load       time.Duration // adding this step's services and instances through the API
	rssLoaded  int64         // VmRSS after loading, in the process that took the writes
	startup    time.Duration // restart from the store until listening (table compiled)
	rssRestart int64         // VmRSS after the restart
	put, del   latencies     // single instance writes: add, remove
	routed     int           // adds after which the very next request was routed (of writes)
	gone       int           // removes after which the very next request got 503 (of writes)
	writes     int
}

type latencies []time.Duration

func (l latencies) pct(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	return s[min(len(s)-1, int(p/100*float64(len(s))))]
}

func (l latencies) String() string {
	return fmt.Sprintf("%.2f / %.2f / %.2f", msf(l.pct(50)), msf(l.pct(99)), msf(l.pct(100)))
}

func msf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// scaleResult is the curve over table sizes, and one size with the store
// on disk.
type scaleResult struct {
	rows []scaleRow
	disk *scaleRow
	dir  string // where the disk row's store was
}

// scale loads growing tables (10 instances per service, distinct
// addresses) into one webrouter and, at each size, measures RSS, a
// restart from the store, and the latency of single instance writes: a
// probe service with no instances gets one (PUT) and loses it (DELETE);
// the API answers once the live table has the change, so the time of the
// call is the time to routable. One request through the entry point after
// each call checks that (200 after PUT, 503 after DELETE). webrouter runs
// unpinned here, with every core, store on tmpfs; the last size is
// measured again with the store on disk (fsync per write).
func (h *harness) scale(ctx context.Context) (*scaleResult, error) {
	data := filepath.Join(h.tmp, "scale-data")
	r, err := testbed.Start(h.webrouter, data, nil, "--access-log", "off")
	if err != nil {
		return nil, err
	}
	defer func() { r.Stop(30 * time.Second) }()
	c := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer c.CloseIdleConnections()
	if err := apiOK(ctx, r, c, "PUT", "/v1/services/probe", `{"mountpoints":["probe.bench"]}`); err != nil {
		return nil, err
	}
	res := &scaleResult{}
	loaded := 0 // services
	for _, n := range h.opts.scaleSizes {
		row := scaleRow{label: fmt.Sprint(n), instances: n, services: n / 10, writes: h.opts.writes}
		start := time.Now()
		if err := loadServices(ctx, r, c, loaded, row.services); err != nil {
			return nil, err
		}
		row.load, loaded = time.Since(start), max(loaded, row.services)
		row.rssLoaded = procfs.StatusKB(r.Cmd.Process.Pid, "VmRSS") << 10
		if err := h.probeWrites(ctx, r, c, &row); err != nil {
			return nil, err
		}
		if r, err = restart(r, data, &row); err != nil {
			return nil, err
		}
		fmt.Fprintf(h.opts.log, "perf: scale %d instances: load %s, rss %.0f MiB, PUT p50/p99/max %s ms\n",
			n, row.load.Round(time.Millisecond), mib(row.rssLoaded), row.put)
		res.rows = append(res.rows, row)
	}
	// The same table with the store on disk: the write now includes a
	// real fsync.
	last := res.rows[len(res.rows)-1]
	disk, err := os.MkdirTemp("", "webrouter-perf-disk-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(disk)
	r.Stop(30 * time.Second)
	if err := copyFile(filepath.Join(data, "webrouter.db"), filepath.Join(disk, "webrouter.db")); err != nil {
		return nil, err
	}
	if r, err = testbed.Start(h.webrouter, disk, nil, "--access-log", "off"); err != nil {
		return nil, err
	}
	row := scaleRow{label: last.label + ", store on disk", instances: last.instances, services: last.services,
		writes: h.opts.writes}
	if err := h.probeWrites(ctx, r, c, &row); err != nil {
		return nil, err
	}
	res.disk, res.dir = &row, disk
	return res, nil
}

// loadServices adds services from..to-1, each with 10 instances.
func loadServices(ctx context.Context, r *testbed.Router, c *http.Client, from, to int) error {
	if err := parallel(to-from, 16, func(i int) error {
		s := from + i
		return apiOK(ctx, r, c, "PUT", fmt.Sprintf("/v1/services/s%d", s), fmt.Sprintf(`{"mountpoints":["s%d.scale.bench"]}`, s))
	}); err != nil {
		return err
	}
	return parallel((to-from)*10, 16, func(i int) error {
		s, j := from+i/10, i%10
		return apiOK(ctx, r, c, "PUT", fmt.Sprintf("/v1/services/s%d/instances/i%d", s, j),
			fmt.Sprintf(`{"address":"10.%d.%d.%d","port":8000}`, s>>8&255, s&255, j+1))
	})
}

// probeWrites times row.writes add/remove pairs of the probe instance and
// checks each with one request through the entry point.
func (h *harness) probeWrites(ctx context.Context, r *testbed.Router, c *http.Client, row *scaleRow) error {
	inst := fmt.Sprintf(`{"address":"127.0.0.1","port":%d}`, h.ports[0])
	const path = "/v1/services/probe/instances/p"
	for i := 0; i < row.writes; i++ {
		t0 := time.Now()
		if err := apiOK(ctx, r, c, "PUT", path, inst); err != nil {
			return err
		}
		row.put = append(row.put, time.Since(t0))
		if status(ctx, c, r.HTTP) == http.StatusOK {
			row.routed++
		}
		t0 = time.Now()
		if err := apiOK(ctx, r, c, "DELETE", path, ""); err != nil {
			return err
		}
		row.del = append(row.del, time.Since(t0))
		if status(ctx, c, r.HTTP) == http.StatusServiceUnavailable {
			row.gone++
		}
	}
	return nil
}

// status is the status of one GET to the probe service, 0 on error.
func status(ctx context.Context, c *http.Client, addr string) int {
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/bytes/16", nil)
	req.Host = "probe.bench"
	resp, err := c.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// restart stops r and starts a new router on the same store, recording
// the start-up time and the RSS once it listens.
func restart(r *testbed.Router, data string, row *scaleRow) (*testbed.Router, error) {
	if _, err := r.Stop(30 * time.Second); err != nil {
		return nil, err
	}
	t0 := time.Now()
	n, err := testbed.Start(r.Cmd.Path, data, nil, "--access-log", "off")
	if err != nil {
		return nil, err
	}
	row.startup = time.Since(t0)
	row.rssRestart = procfs.StatusKB(n.Cmd.Process.Pid, "VmRSS") << 10
	return n, nil
}

func apiOK(ctx context.Context, r *testbed.Router, c *http.Client, method, path, body string) error {
	code, b, err := r.API(ctx, c, "", method, path, body)
	if err == nil && code/100 != 2 {
		err = fmt.Errorf("%s %s: %d %s", method, path, code, b)
	}
	return err
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o600)
}

func (s *scaleResult) markdown(b *strings.Builder) {
	b.WriteString("\n## Control plane: webrouter with growing tables (10 instances per service)\n\n" +
		"Store on tmpfs unless noted; webrouter unpinned. Write → routable = the admin call's duration (it returns once " +
		"the live table has the change), checked by one request through the entry point right after each call.\n\n" +
		"| instances | services | load via API | RSS loaded MiB | restart to listening | RSS restarted MiB " +
		"| add instance p50 / p99 / max ms | remove p50 / p99 / max ms | routed right after add / remove |\n" +
		"|---|---|---|---|---|---|---|---|---|\n")
	rows := s.rows
	if s.disk != nil {
		rows = append(slices.Clone(rows), *s.disk)
	}
	for _, r := range rows {
		load, rssL, start, rssR := r.load.Round(time.Millisecond).String(), fmt.Sprintf("%.1f", mib(r.rssLoaded)),
			r.startup.Round(time.Millisecond).String(), fmt.Sprintf("%.1f", mib(r.rssRestart))
		if r.load == 0 {
			load, rssL, start, rssR = "—", "—", "—", "—"
		}
		fmt.Fprintf(b, "| %s | %d | %s | %s | %s | %s | %s | %s | %d/%d, %d/%d |\n", r.label, r.services, load, rssL,
			start, rssR, r.put, r.del, r.routed, r.writes, r.gone, r.writes)
	}
	if s.disk != nil {
		fmt.Fprintf(b, "\nThe on-disk row copied the store to %s (filesystem of the OS temp dir).\n", filepath.Dir(s.dir))
	}
}

// micro runs the lookup, pick and instance-change micro-benchmarks.
func micro(ctx context.Context, root, benchtime string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", "BenchmarkLookup|BenchmarkPick$|BenchmarkInstanceChange|BenchmarkForward",
		"-benchmem", "-benchtime", benchtime, "./internal/route", "./internal/balance", "./internal/compile", "./internal/proxy")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go test -bench: %w\n%s", err, out)
	}
	var keep []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "Benchmark") || strings.HasPrefix(l, "pkg:") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n") + "\n", nil
}
