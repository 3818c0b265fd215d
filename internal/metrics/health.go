package metrics

import "github.com/prometheus/client_golang/prometheus"

// HealthMetrics are the active health check's collectors.
type HealthMetrics struct {
	transitions *prometheus.CounterVec
}

// NewHealth registers the health check collectors; checkers is read at
// scrape time.
func (m *Metrics) NewHealth(checkers func() int) *HealthMetrics {
	h := &HealthMetrics{transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "webrouter_health_transitions_total", Help: "Backend addresses going up or down by active health checks.",
	}, []string{"to"})}
	m.reg.MustRegister(h.transitions, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "webrouter_health_checkers", Help: "Backend addresses being actively checked (one checker each).",
	}, func() float64 { return float64(checkers()) }))
	return h
}

// Transition counts one address going up or down.
func (h *HealthMetrics) Transition(_ string, up bool) {
	if up {
		h.transitions.WithLabelValues("up").Inc()
	} else {
		h.transitions.WithLabelValues("down").Inc()
	}
}
