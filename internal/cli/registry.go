package cli

import (
	"github.com/spf13/pflag"

	"github.com/webrouter/webrouter/internal/server"
)

// addRegistryFlags defines serve's registry flags: which registry, and how
// to reach an etcd cluster. The password is never printed: its default is
// empty and the router does not log it.
func addRegistryFlags(fs *pflag.FlagSet, c *server.Config) {
	fs.StringVar(&c.Registry, "registry", c.Registry,
		"`registry`: embedded, or etcd://host:port[,host:port…][/prefix] (prefix default /webrouter)")
	fs.StringVar(&c.Etcd.CACert, "etcd-cacert", "", "CA certificate `file` (PEM) that signs the etcd members' certificates; enables TLS")
	fs.StringVar(&c.Etcd.Cert, "etcd-cert", "", "client certificate `file` (PEM) for etcd; enables TLS, needs --etcd-key")
	fs.StringVar(&c.Etcd.Key, "etcd-key", "", "client key `file` (PEM) of --etcd-cert")
	fs.StringVar(&c.Etcd.User, "etcd-user", "", "etcd user `name`, when etcd authentication is on")
	fs.StringVar(&c.Etcd.Password, "etcd-password", "", "etcd `password` of --etcd-user (prefer the environment variable)")
}
