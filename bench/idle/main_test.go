package main

import (
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/webrouter/webrouter/internal/loadgen/scenario"
)

// TestRun: the tool builds and starts webrouter, and nginx, holds 100
// connections idle on each and reads /proc, without an error (numbers are
// not asserted: a smoke test, so that it cannot rot). Without nginx it
// measures webrouter alone, except under CI=true, where nginx is
// installed by scripts/setup-bench and its absence fails.
func TestRun(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	if testing.Short() {
		t.Skip("builds webrouter")
	}
	proxies := []string{"webrouter", "nginx"}
	if _, err := scenario.NginxBinary(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("nginx is not installed (scripts/setup-bench)")
		}
		t.Log("nginx is not installed: webrouter alone")
		proxies = proxies[:1]
	}
	if err := run(100, time.Second, "", proxies); err != nil {
		t.Fatal(err)
	}
}
