package cli

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/webrouter/webrouter/internal/server"
)

// captureServe returns a serve that records its config and returns nil.
func captureServe(got *server.Config) serveFunc {
	return func(_ context.Context, cfg server.Config, _ *slog.Logger) error {
		*got = cfg
		return nil
	}
}

func TestServeConfigFromFlagsAndEnv(t *testing.T) {
	defaults := server.Defaults()
	defaults.Version = "v1.2.3"
	with := func(change func(*server.Config)) server.Config {
		c := defaults
		change(&c)
		return c
	}
	tests := []struct {
		name string
		env  []string
		args []string
		want server.Config
	}{
		{name: "defaults", want: defaults},
		{
			name: "every flag from the environment",
			env: []string{
				"WEBROUTER_HTTP=:8081", "WEBROUTER_ADMIN=0.0.0.0:9091", "WEBROUTER_DATA=/var/lib/wr",
				"WEBROUTER_ADMIN_TOKEN=s3cret", "WEBROUTER_SHUTDOWN_GRACE=5s", "WEBROUTER_CONNECT_TIMEOUT=1s",
				"WEBROUTER_RESPONSE_TIMEOUT=2m", "WEBROUTER_IDLE_CONNS_PER_HOST=8", "WEBROUTER_ACCESS_LOG=off",
				"WEBROUTER_LOG_FORMAT=json", "WEBROUTER_LOG_LEVEL=debug",
			},
			want: with(func(c *server.Config) {
				c.HTTPAddr, c.AdminAddr, c.DataDir, c.AdminToken = ":8081", "0.0.0.0:9091", "/var/lib/wr", "s3cret"
				c.ShutdownGrace, c.ConnectTimeout, c.ResponseTimeout = 5*time.Second, time.Second, 2*time.Minute
				c.IdleConnsPerHost, c.AccessLog, c.LogFormat = 8, "off", "json"
			}),
		},
		{
			name: "flags",
			args: []string{"--http", ":1", "--shutdown-grace=1m", "--access-log", "/tmp/access.log", "--log-format", "json"},
			want: with(func(c *server.Config) {
				c.HTTPAddr, c.ShutdownGrace, c.AccessLog, c.LogFormat = ":1", time.Minute, "/tmp/access.log", "json"
			}),
		},
		{
			name: "a flag wins over its variable",
			env:  []string{"WEBROUTER_HTTP=:1111", "WEBROUTER_SHUTDOWN_GRACE=1s", "WEBROUTER_DATA=/env"},
			args: []string{"--http=:2222", "--shutdown-grace", "2s"},
			want: with(func(c *server.Config) { c.HTTPAddr, c.ShutdownGrace, c.DataDir = ":2222", 2*time.Second, "/env" }),
		},
		{
			name: "an empty variable counts as unset",
			env:  []string{"WEBROUTER_HTTP=", "WEBROUTER_SHUTDOWN_GRACE="},
			want: defaults,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			setEnv(t, tt.env)
			var got server.Config
			r := cliServe(t, captureServe(&got), append([]string{"serve"}, tt.args...)...)
			if r.code != 0 {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			if got != tt.want {
				t.Errorf("config\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestMalformedEnvIsAUsageError(t *testing.T) {
	tests := []struct {
		env  string
		args []string
	}{
		{"WEBROUTER_SHUTDOWN_GRACE=soon", []string{"serve"}},
		{"WEBROUTER_IDLE_CONNS_PER_HOST=many", []string{"serve"}},
		{"WEBROUTER_LOG_FORMAT=xml", []string{"serve"}},
		{"WEBROUTER_LOG_LEVEL=verbose", []string{"serve"}},
		{"WEBROUTER_OUTPUT=yaml", []string{"routes"}},
		{"WEBROUTER_SHUTDOWN_GRACE=soon", []string{"serve"}},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			clearEnv(t)
			setEnv(t, []string{tt.env})
			called := false
			r := cliServe(t, func(context.Context, server.Config, *slog.Logger) error { called = true; return nil }, tt.args...)
			name, _, _ := strings.Cut(tt.env, "=")
			if r.code != exitUsage || !strings.Contains(r.stderr, "error: environment variable "+name) {
				t.Errorf("exit %d, stderr %q; want exit 2 naming %s", r.code, r.stderr, name)
			}
			if called {
				t.Error("serve ran despite the bad variable")
			}
		})
	}
}

func TestServeLogger(t *testing.T) {
	tests := []struct {
		args      []string
		want, not string
	}{
		{args: nil, want: "level=INFO msg=info", not: "debug"},
		{args: []string{"--log-level", "debug"}, want: "level=DEBUG msg=debug"},
		{args: []string{"--log-format", "json", "--log-level=warn"}, want: `"level":"WARN","msg":"warn"`, not: "info"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			clearEnv(t)
			r := cliServe(t, func(_ context.Context, _ server.Config, log *slog.Logger) error {
				log.Debug("debug")
				log.Info("info")
				log.Warn("warn")
				return nil
			}, append([]string{"serve"}, tt.args...)...)
			if r.code != 0 || !strings.Contains(r.stderr, tt.want) || (tt.not != "" && strings.Contains(r.stderr, tt.not)) {
				t.Errorf("exit %d, stderr %q; want %q without %q", r.code, r.stderr, tt.want, tt.not)
			}
		})
	}
}

func TestServeFailureExitsOneWithoutTheToken(t *testing.T) {
	clearEnv(t)
	t.Setenv("WEBROUTER_ADMIN_TOKEN", "tok-from-env")
	r := cliServe(t, func(context.Context, server.Config, *slog.Logger) error {
		return errors.New("listen tcp :8080: address already in use")
	}, "serve", "--admin", "0.0.0.0:9090")
	if r.code != exitError || r.stderr != "error: listen tcp :8080: address already in use\n" {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, "tok-from-env") {
		t.Error("the token was printed")
	}
}

func TestServeStopsOnSIGTERM(t *testing.T) {
	clearEnv(t)
	r := cliServe(t, func(ctx context.Context, _ server.Config, _ *slog.Logger) error {
		// serve is called after the signal handler is installed, so the
		// signal reaches the context rather than killing the test.
		if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(10 * time.Second):
			return errors.New("context not cancelled by SIGTERM")
		}
	}, "serve")
	if r.code != 0 {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestServeRejectsArguments(t *testing.T) {
	clearEnv(t)
	r := cliServe(t, captureServe(new(server.Config)), "serve", "extra")
	if r.code != exitUsage || !strings.Contains(r.stderr, "Run 'webrouter serve --help'") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestVersion(t *testing.T) {
	clearEnv(t)
	r := cli(t, "version")
	want := "webrouter v1.2.3\n" + runtime.Version() + "\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("exit %d, stdout %q; want %q", r.code, r.stdout, want)
	}
}

func TestEnvName(t *testing.T) {
	for flag, want := range map[string]string{
		"http": "WEBROUTER_HTTP", "admin-token": "WEBROUTER_ADMIN_TOKEN", "idle-conns-per-host": "WEBROUTER_IDLE_CONNS_PER_HOST",
	} {
		if got := envName(flag); got != want {
			t.Errorf("envName(%q) = %q, want %q", flag, got, want)
		}
	}
}
