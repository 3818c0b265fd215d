package sysmon

import (
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestEnv(t *testing.T) {
	for _, tt := range []struct {
		name   string
		env    []string
		want   []string // nil: unchanged
		change bool
	}{
		{"no GODEBUG", []string{"A=1"}, []string{"A=1", "GODEBUG=" + Setting}, true},
		{"empty GODEBUG", []string{"GODEBUG=", "A=1"}, []string{"GODEBUG=" + Setting, "A=1"}, true},
		{"other settings kept", []string{"GODEBUG=http2debug=1,gctrace=1"}, []string{"GODEBUG=http2debug=1,gctrace=1," + Setting}, true},
		{"operator's schedtrace wins", []string{"GODEBUG=gctrace=1,schedtrace=1000"}, nil, false},
		{"a spaced one the runtime ignores", []string{"GODEBUG=gctrace=1, schedtrace=1000"}, []string{"GODEBUG=gctrace=1, schedtrace=1000," + Setting}, true},
		{"opted out", []string{OptOut + "=default"}, nil, false},
		{"opt-out needs its value", []string{OptOut + "=on"}, []string{OptOut + "=on", "GODEBUG=" + Setting}, true},
		{"a name that only starts alike", []string{"GODEBUGX=schedtrace=1"}, []string{"GODEBUGX=schedtrace=1", "GODEBUG=" + Setting}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.env)
			got, change := Env(in)
			if change != tt.change {
				t.Fatalf("change = %v, want %v", change, tt.change)
			}
			want := tt.want
			if want == nil {
				want = tt.env
			}
			if !slices.Equal(got, want) {
				t.Fatalf("Env(%q) = %q, want %q", tt.env, got, want)
			}
			if !slices.Equal(in, tt.env) {
				t.Fatalf("Env changed its argument: %q", in)
			}
		})
	}
}

func TestAwake(t *testing.T) {
	for godebug, want := range map[string]bool{
		"":                              false,
		Setting:                         true,
		"gctrace=1," + Setting:          true,
		"schedtrace=0":                  false,
		Setting + ",schedtrace=0":       false, // the last one counts
		"schedtrace=0,schedtrace=1000":  true,
		"schedtrace=0, schedtrace=1000": false, // " schedtrace" is no setting
		"schedtrace=x":                  false,
		"schedtrace=1000,schedtrace=x":  true,  // a bad value is ignored
		"schedtrace=99999999999":        false, // out of the runtime's range
		"xschedtrace=1000,gctrace=1":    false,
	} {
		if got := Awake(godebug); got != want {
			t.Errorf("Awake(%q) = %v, want %v", godebug, got, want)
		}
	}
}

// helperEnv makes the test binary act as a program that calls Reexec (see
// TestMain).
const helperEnv = "SYSMON_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		// Before and after the exec: the same process, told apart by
		// whether the setting is in place yet.
		before := os.Getenv("GODEBUG")
		if err := Reexec(); err != nil {
			os.Stdout.WriteString("error " + err.Error() + "\n")
			os.Exit(3)
		}
		os.Stdout.WriteString("pid " + strconv.Itoa(os.Getpid()) + " godebug " + before + " args " + strings.Join(os.Args[1:], " ") + "\n")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestReexec runs a program that calls Reexec: it is executed again as the
// same process with the same arguments and the setting added, once; with
// the opt-out, it runs on as it is.
func TestReexec(t *testing.T) {
	run := func(extra ...string) string {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^$", "arg")
		cmd.Env = append(os.Environ(), append([]string{helperEnv + "=1", "GODEBUG=gctrace=0"}, extra...)...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("helper: %v: %s", err, out)
		}
		if !strings.HasPrefix(string(out), "pid "+strconv.Itoa(cmd.Process.Pid)+" ") {
			t.Fatalf("helper printed %q; want its own pid %d first (exec keeps the process)", out, cmd.Process.Pid)
		}
		return strings.TrimSpace(string(out))
	}
	out := run()
	if want := "godebug gctrace=0," + Setting + " args -test.run=^$ arg"; !strings.HasSuffix(out, want) {
		t.Fatalf("after Reexec: %q, want it to end in %q (one exec, setting added, arguments kept)", out, want)
	}
	out = run(OptOut + "=default")
	if want := "godebug gctrace=0 args -test.run=^$ arg"; !strings.HasSuffix(out, want) {
		t.Fatalf("opted out: %q, want it to end in %q (no exec)", out, want)
	}
}
