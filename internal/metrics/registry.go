package metrics

import "github.com/prometheus/client_golang/prometheus"

// RegistryStatus exports webrouter_registry_degraded: 1 while degraded()
// reports that the registry cannot take writes and the router routes on
// its last table, else 0. degraded is called at scrape time and must be
// cheap. Call it once per Metrics.
func (m *Metrics) RegistryStatus(degraded func() bool) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "webrouter_registry_degraded",
		Help: "1 while the registry is unreachable or not yet in sync (the router routes on its last table and refuses writes), else 0.",
	}, func() float64 {
		if degraded() {
			return 1
		}
		return 0
	}))
}
