// Command tls compares webrouter with HAProxy on the connection-level
// work of issue #6, in one run: HTTPS requests per second (keep-alive, and
// a new TLS connection per request) with the same certificate and the same
// backend, and TCP throughput through a TCP service (least_conn) to the
// same echo backend. Rounds are interleaved (webrouter, HAProxy, webrouter,
// …) and the medians are printed as a Markdown table.
//
//	go run ./bench/tls                        # 3 rounds of 10 s per case
//	go run ./bench/tls -rounds 1 -duration 5s # quick look
//
// Needs wrk and haproxy (Debian packages) and taskset. The proxy under test
// runs pinned to the last core, the load (wrk, the TCP client) and the
// backends to the others, so that the two proxies get the same CPU.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/webrouter/webrouter/internal/certtest"
	"github.com/webrouter/webrouter/internal/loadgen"
	"github.com/webrouter/webrouter/internal/testbed"
)

type options struct {
	rounds   int
	duration time.Duration
	conns    int // wrk connections
	tcpConns int // TCP throughput connections
	body     int // backend response size
	bin      string
}

func main() {
	var o options
	flag.IntVar(&o.rounds, "rounds", 3, "interleaved rounds; medians are reported")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measured run per case, proxy and round (whole seconds for wrk)")
	flag.IntVar(&o.conns, "conns", 64, "wrk connections for the HTTPS cases")
	flag.IntVar(&o.tcpConns, "tcp-conns", 8, "connections of the TCP throughput case")
	flag.IntVar(&o.body, "body", 1024, "backend response size in bytes")
	flag.StringVar(&o.bin, "webrouter", "", "webrouter binary (default: build it from this module)")
	flag.Parse()
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench/tls:", err)
		os.Exit(1)
	}
}

// proxy is one proxy under test, configured with the same certificate and
// backends as the other.
type proxy struct {
	name   string
	https  string // host:port of the HTTPS entry point
	tcp    string // host:port of the TCP service
	stop   func()
	output func() string
	pid    int // for its CPU time
}

// env is what both proxies share.
type env struct {
	tmp       string
	pemCert   string // chain file
	pemKey    string // key file
	cert      *certtest.Cert
	web       *loadgen.Backend
	echo      string // TCP echo backend
	proxyCPU  string // taskset list for the proxies
	loadCPU   string // taskset list for wrk
	webrouter string
}

func run(ctx context.Context, o options) error {
	for _, b := range []string{"wrk", "haproxy", "taskset"} {
		if _, err := exec.LookPath(b); err != nil {
			return fmt.Errorf("%s not found: install it (Debian: apt-get install %s)", b, b)
		}
	}
	tmp, err := os.MkdirTemp("", "webrouter-bench-tls-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	e := &env{tmp: tmp}
	if n := runtime.NumCPU(); n >= 2 {
		e.proxyCPU, e.loadCPU = strconv.Itoa(n-1), "0-"+strconv.Itoa(n-2)
		// Pin this process (backends, TCP client) with the load.
		if out, err := exec.Command("taskset", "-a", "-p", "-c", e.loadCPU, strconv.Itoa(os.Getpid())).CombinedOutput(); err != nil {
			return fmt.Errorf("taskset: %v: %s", err, out)
		}
	}
	if e.webrouter, err = testbed.BinaryOr(o.bin, tmp); err != nil {
		return err
	}
	ca, err := certtest.NewCA("bench CA")
	if err != nil {
		return err
	}
	if e.cert, err = ca.Issue(certtest.Options{Names: []string{"bench.test"}}); err != nil {
		return err
	}
	e.pemCert, e.pemKey = filepath.Join(tmp, "bench.crt"), filepath.Join(tmp, "bench.key")
	os.WriteFile(e.pemCert, []byte(e.cert.CertPEM), 0o600)
	os.WriteFile(e.pemKey, []byte(e.cert.KeyPEM), 0o600)
	if e.web, err = loadgen.StartBackend(o.body); err != nil {
		return err
	}
	defer e.web.Stop()
	echo, stopEcho, err := startEcho()
	if err != nil {
		return err
	}
	defer stopEcho()
	e.echo = echo

	// Each case records its rate and its rate per CPU-second of the proxy,
	// which other load on the machine disturbs much less.
	type sample struct{ rate, perCPU []float64 }
	type result struct{ keepAlive, newConn, tcpMiB sample }
	results := map[string]*result{"webrouter": {}, "haproxy": {}}
	order := []string{"webrouter", "haproxy"}
	measure := func(p *proxy, s *sample, f func() (float64, error)) error {
		cpu0 := cpuSeconds(p.pid)
		rate, err := f()
		if err != nil {
			return err
		}
		s.rate = append(s.rate, rate)
		if cpu := cpuSeconds(p.pid) - cpu0; cpu > 0 {
			s.perCPU = append(s.perCPU, rate*o.duration.Seconds()/cpu)
		}
		return nil
	}
	for round := 1; round <= o.rounds; round++ {
		for _, name := range order {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			p, err := e.start(name)
			if err != nil {
				return err
			}
			r := results[name]
			url := "https://" + p.https + "/"
			err = measure(p, &r.keepAlive, func() (float64, error) { return runWrk(ctx, e.loadCPU, url, o.conns, o.duration, false) })
			if err == nil {
				err = measure(p, &r.newConn, func() (float64, error) { return runWrk(ctx, e.loadCPU, url, o.conns, o.duration, true) })
			}
			if err == nil {
				err = measure(p, &r.tcpMiB, func() (float64, error) { return tcpThroughput(ctx, p.tcp, o.tcpConns, o.duration) })
			}
			p.stop()
			if err != nil {
				return fmt.Errorf("%s, round %d: %w\n%s", name, round, err, p.output())
			}
			last := func(s sample) float64 { return s.rate[len(s.rate)-1] }
			fmt.Fprintf(os.Stderr, "round %d %-9s https keep-alive %8.0f req/s, new connection %7.0f req/s, tcp %7.1f MiB/s\n",
				round, name, last(r.keepAlive), last(r.newConn), last(r.tcpMiB))
		}
		slices.Reverse(order) // alternate who goes first
	}
	w, h := results["webrouter"], results["haproxy"]
	fmt.Printf("\n%s, %d rounds of %s per case, proxies pinned to CPU %s (GOMAXPROCS=1), load to CPU %s; medians\n\n",
		time.Now().Format("2006-01-02"), o.rounds, o.duration, e.proxyCPU, e.loadCPU)
	fmt.Println("| case | webrouter | HAProxy 2.6 | ratio | webrouter per CPU-s | HAProxy per CPU-s | ratio |")
	fmt.Println("|---|---|---|---|---|---|---|")
	row := func(what, unit string, a, b sample) {
		ra, rb, ca, cb := median(a.rate), median(b.rate), median(a.perCPU), median(b.perCPU)
		fmt.Printf("| %s | %.0f %s | %.0f %s | %.2f× | %.0f | %.0f | %.2f× |\n", what, ra, unit, rb, unit, ra/rb, ca, cb, ca/cb)
	}
	row(fmt.Sprintf("HTTPS keep-alive, %d B, wrk -c%d", o.body, o.conns), "req/s", w.keepAlive, h.keepAlive)
	row(fmt.Sprintf("HTTPS new (resumed) TLS connection per request, wrk -c%d", o.conns), "req/s", w.newConn, h.newConn)
	row(fmt.Sprintf("TCP echo throughput, %d connections", o.tcpConns), "MiB/s", w.tcpMiB, h.tcpMiB)
	return nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}
