package main

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// TestSmoke runs the whole benchmark in its smoke size — every case, one
// round of two seconds, small route counts, the control-plane curve at 100
// and 1 000 instances — so the harness cannot rot. It asserts that every
// run produced numbers and that no request failed, never a speed. Without
// wrk or a peer it skips, except under CI=true, where it fails.
func TestSmoke(t *testing.T) {
	proxies := []string{"webrouter", "nginx", "haproxy", "caddy"}
	var missing []string
	for _, b := range []string{"wrk", "taskset", "nginx", "haproxy", "caddy"} {
		if tool(b) == "" {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		msg := "missing " + strings.Join(missing, ", ") + ": run scripts/setup-bench"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	cases, control, err := selectCases("small,many-conns,large,new-conn,post,many-routes,scale")
	if err != nil {
		t.Fatal(err)
	}
	o := options{cases: cases, control: control, proxies: proxies, rounds: 1, duration: 2 * time.Second,
		pin: true, services: 100, perService: 5, hosts: 50, scaleSizes: []int{100, 1000}, writes: 20, log: io.Discard}
	if testing.Verbose() {
		o.log = os.Stderr
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := run(ctx, o)
	if err != nil {
		if rep != nil {
			t.Log(rep.markdown())
		}
		t.Fatal(err)
	}
	for _, c := range cases {
		for _, p := range proxies {
			ss := rep.samples[c.name][p]
			if len(ss) != 1 {
				t.Errorf("%s/%s: %d samples, want 1", c.name, p, len(ss))
				continue
			}
			s := ss[0]
			switch {
			case s.err != "":
				t.Errorf("%s/%s: %s", c.name, p, s.err)
			case s.wrk.Requests == 0 || s.wrk.rps() == 0 || s.wrk.P99 == 0:
				t.Errorf("%s/%s: no numbers: %+v", c.name, p, s.wrk)
			case s.errors() != 0:
				t.Errorf("%s/%s: %d errors of %d requests: %+v", c.name, p, s.errors(), s.wrk.Requests, s.wrk)
			case s.cpu == 0 || s.peakRSS == 0:
				t.Errorf("%s/%s: CPU %s, peak RSS %d: /proc readings missing", c.name, p, s.cpu, s.peakRSS)
			}
		}
	}
	if rep.scale == nil || len(rep.scale.rows) != 2 || rep.scale.disk == nil {
		t.Fatalf("scale: %+v, want two sizes and the on-disk row", rep.scale)
	}
	for _, r := range append(rep.scale.rows, *rep.scale.disk) {
		if r.routed != r.writes || r.gone != r.writes || len(r.put) != r.writes {
			t.Errorf("scale %s: routed %d and gone %d after %d writes", r.label, r.routed, r.gone, r.writes)
		}
	}
	md := rep.markdown()
	for _, want := range []string{"## small", "## many-routes", "wr/peer req/s", "## Control plane"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}
