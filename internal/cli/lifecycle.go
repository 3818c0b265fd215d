package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/webrouter/webrouter/internal/api"
	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/client"
)

// instanceStateCmd changes an instance's administrative state.
func (a *app) instanceStateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "state SERVICE ID ready|draining|maintenance",
		Short: "Take an instance out of rotation (draining, maintenance) or put it back (ready)",
		Long: "Draining and maintenance take the instance out of rotation: it gets no new\n" +
			"requests, while what is in flight on it (requests, WebSockets) continues until\n" +
			"it ends or the router's --drain-timeout passes. ready puts it back.",
		Args: exactArgs("SERVICE", "ID", "STATE"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			st := catalog.InstanceState(args[2])
			if err := catalog.CheckState(st); err != nil {
				return usagef("%v", err)
			}
			return fetch(a, cmd, func(ctx context.Context, c *client.Client) (api.Instance, error) {
				return c.SetInstanceState(ctx, args[0], args[1], st)
			}, writeInstance)
		}),
	}
}

// instanceDrainCmd drains an instance and, with --wait, waits until nothing
// is in flight on it: the step a deploy takes before stopping the old copy.
func (a *app) instanceDrainCmd() *cobra.Command {
	var wait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "drain SERVICE ID",
		Short: "Set an instance draining; with --wait, wait until nothing is in flight on it",
		Example: "  webrouter instance drain demo.web web-1 --wait --timeout 2m && docker stop web-1 \\\n" +
			"    && webrouter instance delete demo.web web-1",
		Args: exactArgs("SERVICE", "ID"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			in, err := c.SetInstanceState(cmd.Context(), args[0], args[1], catalog.Draining)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			for wait && in.InFlight > 0 {
				select {
				case <-ctx.Done():
					return runError{fmt.Errorf("instance %s of service %s still has %d in flight after %s", args[1], args[0], in.InFlight, timeout)}
				case <-time.After(200 * time.Millisecond):
				}
				if in, err = c.Instance(ctx, args[0], args[1]); err != nil {
					return err
				}
			}
			return a.render(in, func(w io.Writer) error { return writeInstance(w, in) })
		}),
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until nothing is in flight on the instance")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "how long --wait may take")
	return cmd
}

// upgradeCmd replaces the running router with the binary at its path.
func (a *app) upgradeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "upgrade",
		Short: "Replace the running router with the binary now at its path, without dropping a connection",
		Long: "The router starts the binary at its own path, hands it the listening sockets\n" +
			"and, once the new process is ready, stops accepting and drains. If the new\n" +
			"process fails to start, the running one keeps serving and the error says why.\n" +
			"Same as `kill -HUP <pid>`.",
		Args: exactArgs(),
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			return fetch(a, cmd, func(ctx context.Context, c *client.Client) (api.Upgrade, error) {
				return c.Upgrade(ctx)
			}, writeUpgrade)
		}),
	}
	a.addClientFlags(cmd)
	return cmd
}
