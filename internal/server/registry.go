package server

import (
	"fmt"
	"log/slog"

	"github.com/webrouter/webrouter/internal/metrics"
	"github.com/webrouter/webrouter/internal/registry"
	"github.com/webrouter/webrouter/internal/registry/embedded"
)

// openRegistry opens the registry backend cfg.Registry names.
func openRegistry(cfg Config, log *slog.Logger, m *metrics.Metrics) (registry.Store, error) {
	switch cfg.Registry {
	case "", "embedded":
		return embedded.Open(cfg.DataDir, embedded.Options{
			Logger:     log,
			OnBadEntry: func(string, error) { m.RegistryError("bad_entry") },
		})
	}
	return nil, fmt.Errorf("--registry %q: want \"embedded\"", cfg.Registry)
}
