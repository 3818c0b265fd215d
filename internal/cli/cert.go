package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/webrouter/webrouter/internal/api"
	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/client"
)

// certCmd groups the commands on TLS certificates.
func (a *app) certCmd() *cobra.Command {
	cmd := group("cert", "Put, list, show and delete TLS certificates", "certs", "certificate")
	cmd.AddCommand(a.certPutCmd(), a.certListCmd(), a.certGetCmd(), a.certDeleteCmd())
	a.addClientFlags(cmd)
	return cmd
}

// certPutCmd stores a certificate chain and its key in the registry.
func (a *app) certPutCmd() *cobra.Command {
	var certFile, keyFile string
	var domains []string
	cmd := &cobra.Command{
		Use:   "put NAME --cert FILE --key FILE [--domain D…]",
		Short: "Create or replace a certificate",
		Long: "Create or replace a certificate in the registry: every router sharing the\n" +
			"registry serves it on its HTTPS entry point for the names in the certificate\n" +
			"(its DNS SANs), or for the --domain names given instead. The router refuses an\n" +
			"expired certificate, a key that does not fit it, and files that do not parse.",
		Example: "  webrouter cert put web --cert web.crt --key web.key\n  webrouter cert put lain --cert lain.crt --key lain.key --domain '*.lain' --domain lain",
		Args:    exactArgs("NAME"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			if certFile == "" || keyFile == "" {
				return usagef("give the PEM files with --cert and --key")
			}
			crt, err := os.ReadFile(certFile)
			if err != nil {
				return usagef("--cert: %v", err)
			}
			key, err := os.ReadFile(keyFile)
			if err != nil {
				return usagef("--key: %v", err)
			}
			spec := catalog.CertificateSpec{Cert: string(crt), Key: string(key), Domains: domains}
			return fetch(a, cmd, func(ctx context.Context, c *client.Client) (api.Certificate, error) {
				return c.PutCertificate(ctx, args[0], spec)
			}, writeCert)
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&certFile, "cert", "", "PEM `file` of the certificate chain, leaf first")
	fs.StringVar(&keyFile, "key", "", "PEM `file` of the private key")
	fs.StringSliceVar(&domains, "domain", nil, "server `name` to serve it for, instead of its SANs (e.g. *.lain); repeat for more")
	return cmd
}

func (a *app) certListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the certificates (the registry's and the cert dir's)",
		Args:    exactArgs(),
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			return fetch(a, cmd, func(ctx context.Context, c *client.Client) (api.CertificateList, error) {
				return c.Certificates(ctx)
			}, writeCertList)
		}),
	}
}

func (a *app) certGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "get NAME",
		Short: "Describe a certificate of the registry",
		Args:  exactArgs("NAME"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			return fetch(a, cmd, func(ctx context.Context, c *client.Client) (api.Certificate, error) {
				return c.Certificate(ctx, args[0])
			}, writeCert)
		}),
	}
}

func (a *app) certDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "delete NAME",
		Aliases: []string{"rm"},
		Short:   "Delete a certificate from the registry",
		Args:    exactArgs("NAME"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := c.DeleteCertificate(cmd.Context(), args[0]); err != nil {
				return err
			}
			return a.confirm("deleted certificate %s\n", args[0])
		}),
	}
}

// writeCertList writes one row per certificate.
func writeCertList(w io.Writer, l api.CertificateList) error {
	t := &table{}
	t.row("NAME", "SOURCE", "DOMAINS", "NOT-AFTER", "EXPIRES-SOON")
	for _, c := range l.Certificates {
		name := c.Name
		if c.Default {
			name += " (default)"
		}
		t.row(name, c.Source, strings.Join(c.Domains, ","), c.NotAfter.Format(time.RFC3339), fmt.Sprint(c.ExpiresSoon))
	}
	return t.write(w)
}

// writeCert describes one certificate.
func writeCert(w io.Writer, c api.Certificate) error {
	t := &table{}
	t.row("name:", c.Name)
	t.row("source:", c.Source)
	t.row("domains:", strings.Join(c.Domains, ", "))
	t.row("sans:", strings.Join(c.SANs, ", "))
	t.row("subject:", c.Subject)
	t.row("issuer:", c.Issuer)
	t.row("not_before:", c.NotBefore.Format(time.RFC3339))
	t.row("not_after:", c.NotAfter.Format(time.RFC3339))
	t.row("expires_soon:", fmt.Sprint(c.ExpiresSoon))
	if c.Default {
		t.row("default:", "true")
	}
	return t.write(w)
}
