package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/webrouter/webrouter/internal/api"
	"github.com/webrouter/webrouter/internal/client"
	"github.com/webrouter/webrouter/internal/server"
)

// addClientFlags gives cmd and its subcommands the flags every admin API
// command shares: --admin, --admin-token and -o/--output.
func (a *app) addClientFlags(cmd *cobra.Command) {
	fs := cmd.PersistentFlags()
	fs.StringVar(&a.admin, "admin", server.Defaults().AdminAddr, "admin API `address`: host:port, :port or an http(s):// URL")
	fs.StringVar(&a.token, "admin-token", "", "bearer `token` for the admin API")
	fs.VarP(newEnum(&a.output, outTable, outTable, outJSON), "output", "o", "output format")
	envFlags(fs)
}

// client returns a client for the admin API the flags name; a bad address
// is a usage error.
func (a *app) client() (*client.Client, error) {
	c, err := client.New(a.admin, a.token, nil)
	if err != nil {
		return nil, usageError{err}
	}
	return c, nil
}

// routesCmd shows the live routing table.
func (a *app) routesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "routes",
		Short: "Show the live routing table",
		Args:  exactArgs(),
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			return fetch(a, cmd, func(ctx context.Context, c *client.Client) (api.Routes, error) {
				return c.Routes(ctx)
			}, writeRoutes)
		}),
	}
	a.addClientFlags(cmd)
	return cmd
}

// statusCmd shows the router's own state.
func (a *app) statusCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the router's state",
		Args:  exactArgs(),
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			return fetch(a, cmd, func(ctx context.Context, c *client.Client) (api.Status, error) {
				return c.Status(ctx)
			}, writeStatus)
		}),
	}
	a.addClientFlags(cmd)
	return cmd
}
