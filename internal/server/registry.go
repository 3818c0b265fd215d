package server

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/webrouter/webrouter/internal/metrics"
	"github.com/webrouter/webrouter/internal/registry"
	"github.com/webrouter/webrouter/internal/registry/embedded"
)

// openRegistry opens the registry backend cfg.Registry names and exports
// its health as webrouter_registry_degraded.
func openRegistry(cfg Config, log *slog.Logger, m *metrics.Metrics) (registry.Store, error) {
	var (
		store registry.Store
		err   error
	)
	switch {
	case cfg.Registry == "" || cfg.Registry == "embedded":
		store, err = embedded.Open(cfg.DataDir, embedded.Options{
			Logger:     log,
			OnBadEntry: func(string, error) { m.RegistryError("bad_entry") },
		})
	case strings.HasPrefix(cfg.Registry, "etcd://"):
		store, err = openEtcd(cfg, log, m)
	default:
		return nil, fmt.Errorf("--registry %q: want \"embedded\" or etcd://host:port[,host:port…][/prefix]", cfg.Registry)
	}
	if err != nil {
		return nil, err
	}
	m.RegistryStatus(func() bool { return store.Status().State != "ok" })
	return store, nil
}
