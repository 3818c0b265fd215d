package cli

import (
	"github.com/spf13/cobra"
)

// instanceHeartbeatCmd renews an instance's lease.
func (a *app) instanceHeartbeatCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "heartbeat SERVICE ID",
		Short: "Renew the lease of an instance registered with --ttl",
		Long: "Renew the lease of an instance registered with a TTL (instance put --ttl), so that\n" +
			"it stays registered for another TTL. If the instance is gone (its lease expired)\n" +
			"the command fails with the API's 404: register the instance again.",
		Example: "  webrouter instance put demo.web web-1 10.0.0.5:8000 --ttl 30s\n" +
			"  while sleep 10; do webrouter instance heartbeat demo.web web-1 || break; done",
		Args: exactArgs("SERVICE", "ID"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := c.Heartbeat(cmd.Context(), args[0], args[1]); err != nil {
				return err
			}
			return a.confirm("renewed the lease of instance %s of service %s\n", args[1], args[0])
		}),
	}
}
