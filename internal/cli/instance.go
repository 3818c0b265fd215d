package cli

import (
	"context"
	"io"
	"net"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/webrouter/webrouter/internal/api"
	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/client"
)

// instanceCmd groups the commands on instances.
func (a *app) instanceCmd() *cobra.Command {
	cmd := group("instance", "Register, list, show and remove service instances", "instances", "inst")
	cmd.AddCommand(a.instancePutCmd(), a.instanceListCmd(), a.instanceGetCmd(), a.instanceDeleteCmd(),
		a.instanceStateCmd(), a.instanceDrainCmd())
	a.addClientFlags(cmd)
	return cmd
}

// parseHostPort splits "ADDRESS:PORT" ("[v6]:PORT" for IPv6) into an
// address and a port in 1–65535, or returns a usage error saying what is
// wrong.
func parseHostPort(s string) (string, int, error) {
	host, portText, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, usagef("address %q: want ADDRESS:PORT, e.g. 10.0.0.5:8000 or [::1]:8000 (%v)", s, err)
	}
	if host == "" {
		return "", 0, usagef("address %q: the address before the port is missing", s)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, usagef("address %q: port %q is not a number in 1–65535", s, portText)
	}
	return host, port, nil
}

// instancePutCmd registers or replaces an instance.
func (a *app) instancePutCmd() *cobra.Command {
	var (
		weight int
		state  string
	)
	cmd := &cobra.Command{
		Use:     "put SERVICE ID ADDRESS:PORT",
		Short:   "Register or replace an instance of a service",
		Example: "  webrouter instance put demo.web web-1 10.0.0.5:8000 --weight 20\n  webrouter instance put demo.web web-2 [fd00::5]:8000 --state draining",
		Args:    exactArgs("SERVICE", "ID", "ADDRESS:PORT"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			host, port, err := parseHostPort(args[2])
			if err != nil {
				return err
			}
			spec := catalog.InstanceSpec{Address: host, Port: port}
			if cmd.Flags().Changed("weight") {
				spec.Weight = &weight
			}
			if cmd.Flags().Changed("state") {
				spec.State = catalog.InstanceState(state)
			}
			return fetch(a, cmd, func(ctx context.Context, c *client.Client) (api.Instance, error) {
				return c.PutInstance(ctx, args[0], args[1], spec)
			}, writeInstance)
		}),
	}
	fs := cmd.Flags()
	fs.IntVar(&weight, "weight", catalog.DefaultWeight, "share of traffic relative to the other instances (0 = no new traffic)")
	fs.Var(newEnum(&state, string(catalog.Ready), string(catalog.Ready), string(catalog.Draining), string(catalog.Maintenance)),
		"state", "administrative state")
	return cmd
}

// instanceListCmd lists a service's instances.
func (a *app) instanceListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list SERVICE",
		Aliases: []string{"ls"},
		Short:   "List the instances of a service",
		Args:    exactArgs("SERVICE"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			s, err := c.Service(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			ins := s.Instances
			if ins == nil {
				ins = []api.Instance{} // JSON [] rather than null
			}
			return a.render(ins, func(w io.Writer) error { return writeInstances(w, ins) })
		}),
	}
}

// instanceGetCmd shows one instance with its runtime state.
func (a *app) instanceGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "get SERVICE ID",
		Short: "Show an instance and its runtime state",
		Args:  exactArgs("SERVICE", "ID"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			return fetch(a, cmd, func(ctx context.Context, c *client.Client) (api.Instance, error) {
				return c.Instance(ctx, args[0], args[1])
			}, writeInstance)
		}),
	}
}

// instanceDeleteCmd removes an instance.
func (a *app) instanceDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "delete SERVICE ID",
		Aliases: []string{"rm"},
		Short:   "Remove an instance of a service",
		Args:    exactArgs("SERVICE", "ID"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := c.DeleteInstance(cmd.Context(), args[0], args[1]); err != nil {
				return err
			}
			return a.confirm("deleted instance %s of service %s\n", args[1], args[0])
		}),
	}
}
