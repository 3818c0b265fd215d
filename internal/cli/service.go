package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/webrouter/webrouter/internal/api"
	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/client"
)

// serviceCmd groups the commands on services.
func (a *app) serviceCmd() *cobra.Command {
	cmd := group("service", "Create, list, show and delete services", "services", "svc")
	cmd.AddCommand(a.servicePutCmd(), a.serviceListCmd(), a.serviceGetCmd(), a.serviceDeleteCmd())
	a.addClientFlags(cmd)
	return cmd
}

// serviceOpts holds the flags of `service put`.
type serviceOpts struct {
	mountpoints []string
	healthcheck string
	httpsOnly   bool
	balance     string
	stripPrefix bool
	maxFails    int
	failTimeout time.Duration
	streams     streamOpts
}

// spec returns the request body: mountpoints plus only the options whose
// flags were given in fs, so that the server's defaults apply to the rest.
func (o *serviceOpts) spec(fs *pflag.FlagSet) catalog.ServiceSpec {
	spec := catalog.ServiceSpec{Mountpoints: o.mountpoints}
	if fs.Changed("healthcheck") {
		spec.Healthcheck = o.healthcheck
	}
	if fs.Changed("https-only") {
		spec.HTTPSOnly = o.httpsOnly
	}
	if fs.Changed("balance") {
		spec.Balance = o.balance
	}
	if fs.Changed("strip-prefix") {
		spec.StripPrefix = &o.stripPrefix
	}
	if fs.Changed("max-fails") {
		spec.MaxFails = &o.maxFails
	}
	if fs.Changed("fail-timeout") {
		spec.FailTimeout = o.failTimeout.String()
	}
	return spec
}

// servicePutCmd creates or replaces a service.
func (a *app) servicePutCmd() *cobra.Command {
	o := &serviceOpts{}
	cmd := &cobra.Command{
		Use:   "put NAME --mountpoint M [--mountpoint M…]",
		Short: "Create or replace a service",
		Long: "Create or replace a service. The service is replaced as a whole: options\n" +
			"not given take the server's defaults, not their previous values.",
		Example: "  webrouter service put demo.web --mountpoint demo.example.com --mountpoint example.com/demo --healthcheck /ping\n" +
			"  webrouter service put secure --mountpoint secure.example.com --passthrough\n" +
			"  webrouter service put tcpfront --tcp-port 9999 --healthcheck tcp",
		Args: exactArgs("NAME"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			if len(o.mountpoints) == 0 && len(o.streams.tcpPorts) == 0 {
				return usagef("give at least one --mountpoint (or --tcp-port), e.g. --mountpoint demo.example.com")
			}
			spec := o.spec(cmd.Flags())
			if err := o.streams.apply(cmd.Flags(), &spec); err != nil {
				return err
			}
			return fetch(a, cmd, func(ctx context.Context, c *client.Client) (api.Service, error) {
				return c.PutService(ctx, args[0], spec)
			}, writeService)
		}),
	}
	fs := cmd.Flags()
	fs.StringSliceVar(&o.mountpoints, "mountpoint", nil, "host[/path] the service answers on; repeat or separate with commas")
	fs.StringVar(&o.healthcheck, "healthcheck", "", "active health check: an HTTP `path` such as /ping, or tcp (default none)")
	fs.BoolVar(&o.httpsOnly, "https-only", false, "redirect plain HTTP requests to HTTPS")
	fs.Var(newEnum(&o.balance, catalog.Policies[0], catalog.Policies...), "balance", "balancing policy")
	fs.BoolVar(&o.stripPrefix, "strip-prefix", true, "strip the mountpoint's path before proxying")
	fs.IntVar(&o.maxFails, "max-fails", catalog.DefaultMaxFails, "passive failures within --fail-timeout that mark an instance down (0 = off)")
	fs.DurationVar(&o.failTimeout, "fail-timeout", catalog.DefaultFailTimeout, "passive health window, and how long an instance stays down")
	o.streams.flags(fs)
	return cmd
}

// serviceListCmd lists the services.
func (a *app) serviceListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the services",
		Args:    exactArgs(),
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			return fetch(a, cmd, func(ctx context.Context, c *client.Client) (api.ServiceList, error) {
				return c.Services(ctx)
			}, writeServiceList)
		}),
	}
}

// serviceGetCmd shows one service with its instances.
func (a *app) serviceGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "get NAME",
		Short: "Show a service and its instances",
		Args:  exactArgs("NAME"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			return fetch(a, cmd, func(ctx context.Context, c *client.Client) (api.Service, error) {
				return c.Service(ctx, args[0])
			}, writeService)
		}),
	}
}

// serviceDeleteCmd deletes a service and its instances.
func (a *app) serviceDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "delete NAME",
		Aliases: []string{"rm"},
		Short:   "Delete a service and its instances",
		Args:    exactArgs("NAME"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := c.DeleteService(cmd.Context(), args[0]); err != nil {
				return err
			}
			return a.confirm("deleted service %s\n", args[0])
		}),
	}
}

// confirm tells people that a deletion happened; JSON output stays empty.
func (a *app) confirm(format string, args ...any) error {
	if a.output == outJSON {
		return nil
	}
	_, err := fmt.Fprintf(a.stdout, format, args...)
	return err
}
