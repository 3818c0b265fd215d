package main

import (
	"runtime"
	"testing"
	"time"
)

// TestRun: the tool builds and starts webrouter, holds 100 connections
// idle and reads /proc, without an error (numbers are not asserted: a
// smoke test, so that it cannot rot).
func TestRun(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	if testing.Short() {
		t.Skip("builds webrouter")
	}
	if err := run(100, time.Second, ""); err != nil {
		t.Fatal(err)
	}
}
