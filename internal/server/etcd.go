package server

import (
	"log/slog"

	"github.com/webrouter/webrouter/internal/metrics"
	"github.com/webrouter/webrouter/internal/registry/etcd"
)

// EtcdConfig is how the router reaches an etcd registry (--registry
// etcd://…): TLS files and credentials. Password is never logged.
type EtcdConfig struct {
	CACert, Cert, Key string // PEM files; TLS is used when any is set
	User, Password    string
}

// openEtcd opens the etcd registry named by cfg.Registry, keeping its
// snapshot in cfg.DataDir.
func openEtcd(cfg Config, log *slog.Logger, m *metrics.Metrics) (*etcd.Store, error) {
	endpoints, prefix, err := etcd.ParseURL(cfg.Registry)
	if err != nil {
		return nil, err
	}
	return etcd.Open(etcd.Options{
		Endpoints: endpoints, Prefix: prefix,
		CACert: cfg.Etcd.CACert, Cert: cfg.Etcd.Cert, Key: cfg.Etcd.Key,
		User: cfg.Etcd.User, Password: cfg.Etcd.Password,
		DataDir:    cfg.DataDir,
		Logger:     log,
		OnBadEntry: func(string, error) { m.RegistryError("bad_entry") },
	})
}
