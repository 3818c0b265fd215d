// Command propagation measures how fast a registry write through one
// webrouter reaches another that shares its etcd cluster: it builds
// webrouter, starts a three-member etcd cluster (Debian's etcd-server) and
// two routers on loopback, writes through router A and, after each write is
// acknowledged, polls router B's entry point until B routes the write. It
// prints p50/p99 of acknowledged → routable through B, and of the write
// itself, and exits 1 if the p99 exceeds -goal.
//
//	go run ./bench/propagation                 # 1 000 writes
//	go run ./bench/propagation -writes 200
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"time"

	"github.com/webrouter/webrouter/internal/etcdtest"
	"github.com/webrouter/webrouter/internal/loadgen"
	"github.com/webrouter/webrouter/internal/testbed"
)

func main() {
	writes := flag.Int("writes", 1000, "writes through router A")
	goal := flag.Duration("goal", 100*time.Millisecond, "fail if the propagation p99 exceeds this")
	bin := flag.String("webrouter", "", "webrouter binary (default: build it from this module)")
	flag.Parse()
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	if err := run(ctx, *bin, *writes, *goal); err != nil {
		fmt.Fprintln(os.Stderr, "propagation:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, bin string, writes int, goal time.Duration) error {
	tmp, err := os.MkdirTemp("", "webrouter-propagation-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if bin, err = testbed.BinaryOr(bin, tmp); err != nil {
		return err
	}
	cluster, err := etcdtest.Start(tmp+"/etcd", 3)
	if err != nil {
		return err
	}
	defer cluster.Close()
	var routers []*testbed.Router
	for _, name := range []string{"a", "b"} {
		r, err := testbed.Start(bin, tmp+"/data-"+name, nil, "--registry", cluster.URL("/webrouter"), "--access-log", "off")
		if err != nil {
			return err
		}
		defer r.Stop(10 * time.Second)
		routers = append(routers, r)
	}
	a, b := routers[0], routers[1]
	// Two backends told apart by the size of their answers.
	sizes := []int{100, 200}
	var backends []*loadgen.Backend
	for _, size := range sizes {
		be, err := loadgen.StartBackend(size)
		if err != nil {
			return err
		}
		defer be.Stop()
		backends = append(backends, be)
	}

	api := &http.Client{Timeout: 10 * time.Second}
	call := func(method, path, body string) error {
		code, resp, err := a.API(ctx, api, "", method, path, body)
		if err == nil && code/100 != 2 {
			err = fmt.Errorf("%s %s: %d %s", method, path, code, resp)
		}
		return err
	}
	if err := call("PUT", "/v1/services/prop", `{"mountpoints":["prop.bench"]}`); err != nil {
		return err
	}
	probe := &http.Client{Timeout: 5 * time.Second}
	routedSize := func() int {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+b.HTTP+"/", nil)
		req.Host = "prop.bench"
		resp, err := probe.Do(req)
		if err != nil {
			return -1
		}
		defer resp.Body.Close()
		n, _ := io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != 200 {
			return -1
		}
		return int(n)
	}

	var lags, acks []time.Duration
	for i := 0; i < writes && ctx.Err() == nil; i++ {
		k := i % 2
		body := fmt.Sprintf(`{"address":"127.0.0.1","port":%d}`, backends[k].Port())
		t0 := time.Now()
		if err := call("PUT", "/v1/services/prop/instances/only", body); err != nil {
			return fmt.Errorf("write %d: %w", i, err)
		}
		acked := time.Now()
		acks = append(acks, acked.Sub(t0))
		for routedSize() != sizes[k] {
			if time.Since(acked) > 10*time.Second {
				return fmt.Errorf("write %d not routable through B after 10s", i)
			}
		}
		lags = append(lags, time.Since(acked))
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	fmt.Printf("webrouter propagation: %d writes through router A, 3-member etcd on loopback, 2 routers\n\n", len(lags))
	fmt.Printf("| measure | p50 ms | p90 ms | p99 ms | max ms |\n|---|---|---|---|---|\n")
	for _, m := range []struct {
		name string
		ds   []time.Duration
	}{{"write acknowledged → routable through B", lags}, {"write through A (PUT, until acknowledged)", acks}} {
		p := pct(m.ds)
		fmt.Printf("| %s | %.2f | %.2f | %.2f | %.2f |\n", m.name, ms(p[0]), ms(p[1]), ms(p[2]), ms(p[3]))
	}
	if p99 := pct(lags)[2]; p99 > goal {
		return fmt.Errorf("propagation p99 %s is over the goal of %s", p99, goal)
	}
	return nil
}

// pct returns p50, p90, p99 and the maximum of ds.
func pct(ds []time.Duration) [4]time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q int) time.Duration { return s[min(len(s)-1, len(s)*q/100)] }
	return [4]time.Duration{at(50), at(90), at(99), s[len(s)-1]}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
