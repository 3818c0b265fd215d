package cli

import (
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/webrouter/webrouter/internal/server"
)

// serveFlags is what `webrouter serve` is told beyond server.Config.
type serveFlags struct {
	cfg      server.Config
	logLevel string
}

// serveCmd runs the router until SIGINT or SIGTERM.
func (a *app) serveCmd() *cobra.Command {
	f := &serveFlags{cfg: server.Defaults()}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the router",
		Long: "Run the router: the HTTP entry point, the admin API and the embedded registry.\n" +
			"SIGINT or SIGTERM shuts it down gracefully, letting in-flight requests finish\n" +
			"within --shutdown-grace.",
		Args: exactArgs(),
		RunE: runE(func(cmd *cobra.Command, _ []string) error { return a.runServe(cmd, f) }),
	}
	fs := cmd.Flags()
	c := &f.cfg
	fs.StringVar(&c.HTTPAddr, "http", c.HTTPAddr, "`address` of the HTTP entry point")
	fs.StringVar(&c.HTTPS.Addr, "https", c.HTTPS.Addr, "`address` of the HTTPS entry point (TLS termination, HTTP/2, passthrough); empty: none")
	fs.StringVar(&c.HTTPS.CertDir, "cert-dir", c.HTTPS.CertDir, "`directory` of <name>.crt and <name>.key certificates, polled for changes, served beside the registry's")
	fs.StringVar(&c.HTTPS.DefaultCert, "default-cert", c.HTTPS.DefaultCert, "`name` of the certificate served when no certificate matches the client's server name")
	fs.StringVar(&c.HTTPS.TCPBind, "tcp-bind", c.HTTPS.TCPBind, "`host` the ports of TCP services listen on; empty: every address")
	fs.StringVar(&c.AdminAddr, "admin", c.AdminAddr, "`address` of the admin API")
	fs.StringVar(&c.DataDir, "data", c.DataDir, "`directory` of the embedded registry (with etcd: of the snapshot)")
	addRegistryFlags(fs, c)
	fs.StringVar(&c.AdminToken, "admin-token", "", "bearer `token` the admin API requires (required off loopback)")
	fs.DurationVar(&c.ShutdownGrace, "shutdown-grace", c.ShutdownGrace, "how long in-flight requests may take on shutdown or after an upgrade")
	fs.DurationVar(&c.DrainTimeout, "drain-timeout", c.DrainTimeout, "how long a draining or removed instance's requests and WebSockets may continue")
	fs.DurationVar(&c.UpgradeTimeout, "upgrade-timeout", c.UpgradeTimeout, "how long the new process may take to become ready on upgrade")
	fs.StringVar(&c.PIDFile, "pid-file", c.PIDFile, "write the serving process's pid to this `file` (follows upgrades)")
	fs.DurationVar(&c.ConnectTimeout, "connect-timeout", c.ConnectTimeout, "timeout for dialling a backend")
	fs.DurationVar(&c.ResponseTimeout, "response-timeout", c.ResponseTimeout, "timeout from request sent to response headers")
	fs.IntVar(&c.IdleConnsPerHost, "idle-conns-per-host", c.IdleConnsPerHost, "kept-alive connections per backend address")
	fs.StringVar(&c.AccessLog, "access-log", c.AccessLog, "access log: stdout, stderr, off or a file `path`")
	fs.Var(newEnum(&c.LogFormat, c.LogFormat, "text", "json"), "log-format", "format of the process log (stderr) and the access log")
	fs.Var(newEnum(&f.logLevel, "info", "debug", "info", "warn", "error"), "log-level", "lowest level of the process log")
	envFlags(fs)
	return cmd
}

// runServe runs the router with f until a signal, returning nil after a
// clean shutdown. It never prints the admin token.
func (a *app) runServe(cmd *cobra.Command, f *serveFlags) error {
	cfg := f.cfg
	cfg.Version = a.version
	if cfg.IdleConnsPerHost < 0 {
		return usagef("--idle-conns-per-host %d: want 0 or more", cfg.IdleConnsPerHost)
	}
	for _, d := range []struct {
		flag  string
		value time.Duration
	}{
		{"--shutdown-grace", cfg.ShutdownGrace},
		{"--connect-timeout", cfg.ConnectTimeout},
		{"--response-timeout", cfg.ResponseTimeout},
	} {
		if d.value < 0 {
			return usagef("%s %s: want a duration of 0 or more", d.flag, d.value)
		}
	}
	log, err := newLogger(a.stderr, cfg.LogFormat, f.logLevel)
	if err != nil {
		return usageError{err}
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return a.serve(ctx, cfg, log)
}

// newLogger returns the process logger: text or JSON on w, from level up.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: lvl}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)).With("pid", os.Getpid()), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)).With("pid", os.Getpid()), nil
}
