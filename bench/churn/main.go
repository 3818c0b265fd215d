// Command churn measures failed requests while webrouter's registry
// changes under load: it builds webrouter, starts it on loopback with its
// embedded registry, starts backends and keep-alive clients that never
// retry, churns the registry, and prints one table. It exits 1 if any
// request failed.
//
//	go run ./bench/churn                 # 30 s, 200 clients, 100 changes
//	go run ./bench/churn -duration 5s -clients 32
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"time"

	"github.com/webrouter/webrouter/internal/loadgen"
	"github.com/webrouter/webrouter/internal/testbed"
)

func main() {
	duration := flag.Duration("duration", 30*time.Second, "load duration")
	clients := flag.Int("clients", 200, "concurrent keep-alive clients")
	changes := flag.Int("changes", 100, "instance add+remove cycles")
	bin := flag.String("webrouter", "", "webrouter binary (default: build it from this module)")
	flag.Parse()
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	if err := run(ctx, *bin, *duration, *clients, *changes); err != nil {
		fmt.Fprintln(os.Stderr, "churn:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, bin string, duration time.Duration, clients, changes int) error {
	tmp, err := os.MkdirTemp("", "webrouter-churn-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if bin == "" {
		root, err := testbed.ModuleRoot()
		if err != nil {
			return err
		}
		if bin, err = testbed.Build(root, tmp, false); err != nil {
			return err
		}
	}
	const body = 1024
	var backends []*loadgen.Backend
	for i := 0; i < 4; i++ {
		b, err := loadgen.StartBackend(body)
		if err != nil {
			return err
		}
		defer b.Stop()
		backends = append(backends, b)
	}
	r, err := testbed.Start(bin, tmp+"/data", nil, "--access-log", "off")
	if err != nil {
		return err
	}
	defer r.Stop(10 * time.Second)

	res, err := loadgen.RegistryChurn(ctx, r, backends, loadgen.ChurnOptions{
		Duration: duration, Clients: clients, Changes: changes, BodySize: body,
	})
	if err != nil {
		return err
	}
	fmt.Printf("webrouter registry churn: %d clients (keep-alive, non-retrying POST), %s, %d instance add+remove cycles plus %d weight changes\n\n",
		clients, duration, changes, changes)
	fmt.Printf("| scenario | webrouter failed / total | req/s | p50 ms | p99 ms |\n|---|---|---|---|---|\n")
	fmt.Printf("| registry churn | %d / %d | %.0f | %.2f | %.2f |\n", res.Failed, res.Total, res.RPS(),
		ms(res.P50), ms(res.P99))
	if res.Failed > 0 {
		reasons := make([]string, 0, len(res.Reasons))
		for k := range res.Reasons {
			reasons = append(reasons, k)
		}
		sort.Strings(reasons)
		fmt.Println("\nfailures:")
		for _, k := range reasons {
			fmt.Printf("  %6d  %s\n", res.Reasons[k], k)
		}
		return fmt.Errorf("%d of %d requests failed", res.Failed, res.Total)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
