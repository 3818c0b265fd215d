// Package sysmon keeps Go's system monitor from being woken thousands of
// times a second on a router whose core alternates between busy and idle.
//
// The runtime's monitor thread (sysmon) sleeps deeply while every P is
// idle, and the next system call made through the syscall package
// (entersyscall: accept4, close, setsockopt, getsockname — each new
// connection makes them) wakes it and sets it polling every 20 µs again.
// On a router that is busy most of the time and idle in between, that is
// a wake-up for nearly every idle stretch: measured on the new-conn
// benchmark (bench/perf, one core), 8 000 wake-ups a second, each two
// context switches and often a preemption of the thread serving requests,
// and P hand-overs between threads behind them.
//
// The runtime has one switch for it, read only from the environment at
// start: with GODEBUG's schedtrace set, sysmon never sleeps deeply; it
// backs off to one look every 10 ms once there is nothing to do. Setting
// is the longest period (2³¹−1 ms, 24.8 days), so the scheduler trace it
// also enables prints at most one line (to stderr) in 24.8 days, plus the
// scheduler's state after a fatal error.
//
// Reexec re-executes the running binary once with Setting added to
// GODEBUG. An operator's own schedtrace in GODEBUG is left alone, and
// WEBROUTER_SYSMON=default (in the environment) turns this off.
package sysmon

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Setting is what Reexec adds to GODEBUG.
const Setting = "schedtrace=2147483647"

// OptOut is the environment variable that, set to "default", keeps
// Go's own behaviour (no re-execution).
const OptOut = "WEBROUTER_SYSMON"

// Env returns env with Setting added to its GODEBUG, and false (env
// unchanged) when GODEBUG already sets schedtrace or OptOut is "default".
func Env(env []string) ([]string, bool) {
	at := -1
	for i, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case OptOut:
			if v == "default" {
				return env, false
			}
		case "GODEBUG":
			at = i
			for _, s := range strings.Split(v, ",") {
				if strings.HasPrefix(s, "schedtrace=") { // as the runtime reads it: no spaces
					return env, false
				}
			}
		}
	}
	out := append([]string(nil), env...)
	if at < 0 {
		return append(out, "GODEBUG="+Setting), true
	}
	if v := strings.TrimPrefix(out[at], "GODEBUG="); v != "" {
		out[at] = "GODEBUG=" + v + "," + Setting
	} else {
		out[at] = "GODEBUG=" + Setting
	}
	return out, true
}

// Reexec replaces the process with the same binary and arguments and the
// environment Env makes, and returns only when it does not: nothing to
// change, or the binary cannot be executed again (the router then runs as
// it is, the error says why).
func Reexec() error {
	env, change := Env(os.Environ())
	if !change {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	return syscall.Exec(exe, os.Args, env)
}

// Awake reports whether godebug (GODEBUG's value, as the runtime read it at
// start) keeps sysmon out of its deep sleep: read as the runtime reads it
// (left to right, a value that is not a 32-bit number ignored), the last
// schedtrace setting is positive.
func Awake(godebug string) bool {
	awake := false
	for _, s := range strings.Split(godebug, ",") {
		if v, ok := strings.CutPrefix(s, "schedtrace="); ok {
			if n, err := strconv.ParseInt(v, 10, 32); err == nil {
				awake = n > 0
			}
		}
	}
	return awake
}
