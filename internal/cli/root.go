// Package cli is webrouter's command line: `webrouter serve` runs the router,
// the other commands talk to a running router's admin API. The router's
// settings and the admin connection flags can also be set by environment
// variables (see envFlags).

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/webrouter/webrouter/internal/client"
	"github.com/webrouter/webrouter/internal/server"
)

// Exit codes of Main.
const (
	exitOK    = 0
	exitError = 1 // the command ran and failed (API error, server failure)
	exitUsage = 2 // bad arguments, flags or environment
)

// serveFunc runs the router until ctx is cancelled; server.Run in production.
type serveFunc func(ctx context.Context, cfg server.Config, log *slog.Logger) error

// app holds what the commands share: their outputs and the client flags.
// One app serves one command line.
type app struct {
	version        string
	stdout, stderr io.Writer
	serve          serveFunc

	admin, token string // client flags, shared by the client commands
	output       string // "table" or "json"
}

// Main runs webrouter with args (without the program name) on os.Stdout and
// os.Stderr and returns the process exit code: 0 on success, 1 when the
// command failed, 2 on a usage error.
func Main(args []string, version string) int {
	return execute(context.Background(), New(version, os.Stdout, os.Stderr), args)
}

// New returns the webrouter command tree writing to stdout and stderr. It
// prints no errors itself; run it with Main's rules via execute.
func New(version string, stdout, stderr io.Writer) *cobra.Command {
	return newRoot(&app{version: version, stdout: stdout, stderr: stderr, serve: server.Run})
}

// newRoot builds the command tree around a; tests give it a fake serve.
func newRoot(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "webrouter",
		Short: "The front door of a container cluster",
		Long: "webrouter routes HTTP requests to service instances and changes its routes\n" +
			"the moment the registry changes. `serve` runs the router; the other commands\n" +
			"talk to a running router's admin API.\n\n" +
			"The flags of serve and the admin connection flags (--admin, --admin-token,\n" +
			"--output) can also be set by environment variables, named in each flag's\n" +
			"help ([$WEBROUTER_…]); a flag on the command line wins.",
		SilenceErrors:     true,
		SilenceUsage:      true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return bindEnv(cmd.Flags()) },
	}
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		a.serveCmd(),
		a.versionCmd(),
		a.serviceCmd(),
		a.instanceCmd(),
		a.routesCmd(),
		a.certCmd(),
		a.statusCmd(),
		a.upgradeCmd(),
		a.agentCmd(),
	)
	return root
}

// execute runs root with args and prints any error to root's error output
// as "error: …". It returns the exit code (see Main).
func execute(ctx context.Context, root *cobra.Command, args []string) int {
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	w := root.ErrOrStderr()
	fmt.Fprintln(w, "error:", message(err))
	var failed runError
	if errors.As(err, &failed) {
		return exitError
	}
	fmt.Fprintf(w, "Run '%s --help' for usage.\n", cmd.CommandPath())
	return exitUsage
}

// message is what the user sees for err: an API error's own message, with a
// hint when the token was refused.
func message(err error) string {
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) {
		return err.Error()
	}
	if apiErr.Status == http.StatusUnauthorized {
		return apiErr.Message + " (give the admin token with --admin-token or WEBROUTER_ADMIN_TOKEN)"
	}
	return apiErr.Message
}

// usageError is a mistake in the command line or environment: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usageError with a formatted message.
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// runError is a failure of a command that ran: exit code 1.
type runError struct{ err error }

func (e runError) Error() string { return e.err.Error() }
func (e runError) Unwrap() error { return e.err }

// runE adapts a command body: its errors are failures (exit 1) unless they
// are usage errors. Errors cobra raises before the body runs (unknown flag,
// wrong arguments) stay usage errors.
func runE(body func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		err := body(cmd, args)
		var usage usageError
		if err == nil || errors.As(err, &usage) {
			return err
		}
		return runError{err}
	}
}

// exactArgs requires one argument per name and says which are missing.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == len(names) {
			return nil
		}
		if len(args) < len(names) {
			return usagef("missing %s", names[len(args)])
		}
		if len(names) == 0 {
			return usagef("too many arguments: %s takes none, got %q", cmd.CommandPath(), args)
		}
		return usagef("too many arguments: %s takes %s, got %q", cmd.CommandPath(), strings.Join(names, " "), args)
	}
}

// group returns a command that only holds subcommands: without arguments it
// prints its help, with an unknown subcommand it is a usage error.
func group(use, short string, aliases ...string) *cobra.Command {
	return &cobra.Command{
		Use:     use,
		Short:   short,
		Aliases: aliases,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
}

// versionCmd prints the version and the Go version it was built with.
func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  exactArgs(),
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(a.stdout, "webrouter %s\n%s\n", a.version, runtime.Version())
			return err
		}),
	}
}
