// Package metrics exposes webrouter's Prometheus metrics. Each Metrics has
// its own registry (no global state); the proxy's per-request call costs a
// map load and two atomic adds.
package metrics

import (
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/webrouter/webrouter/internal/upstream"
)

// Metrics holds every collector of one router process.
type Metrics struct {
	reg            *prometheus.Registry
	requests       *prometheus.CounterVec
	upstreamTime   *prometheus.HistogramVec
	conns          *prometheus.GaugeVec
	generation     prometheus.Gauge
	registryErrors *prometheus.CounterVec
	byService      sync.Map        // service name → *serviceMetrics
	services       func() []string // see Options.Services
}

type serviceMetrics struct {
	classes  [6]prometheus.Counter // 1xx…5xx, other
	upstream prometheus.Observer
}

var classNames = [6]string{"1xx", "2xx", "3xx", "4xx", "5xx", "other"}

// Options name the sources of gauges that are read at scrape time.
type Options struct {
	AccessLogDropped func() uint64 // nil: not exported
	// Services lists the services that exist now. Before each scrape, the
	// per-service series of any other service (deleted since) are dropped,
	// so that they do not pile up as services come and go; those of
	// service "" (requests no route took) stay. nil: never.
	Services func() []string
}

// New registers every collector.
func New(o Options) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webrouter_requests_total", Help: "Proxied requests by service and status class.",
		}, []string{"service", "code"}),
		upstreamTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "webrouter_upstream_duration_seconds", Help: "Time from request sent to response headers, by service.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"service"}),
		conns: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "webrouter_open_connections", Help: "Open client connections by entry point.",
		}, []string{"entrypoint"}),
		generation: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "webrouter_table_generation", Help: "Generation of the live routing table.",
		}),
		registryErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webrouter_registry_errors_total", Help: "Registry entries skipped or operations failed, by kind.",
		}, []string{"kind"}),
		services: o.Services,
	}
	m.reg.MustRegister(m.requests, m.upstreamTime, m.conns, m.generation, m.registryErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if o.AccessLogDropped != nil {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "webrouter_access_log_dropped_total", Help: "Access log lines dropped because the output could not keep up.",
		}, func() float64 { return float64(o.AccessLogDropped()) }))
	}
	return m
}

// WatchBackends exports the state of every backend address in hosts: up,
// in flight, requests.
func (m *Metrics) WatchBackends(hosts *upstream.Set) {
	m.reg.MustRegister(&backendCollector{hosts: hosts})
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
	if m.services == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.prune()
		h.ServeHTTP(w, r)
	})
}

// prune drops the series of the services Options.Services no longer
// lists. A request still finishing on a deleted service may bring its
// series back; the next scrape drops them again.
func (m *Metrics) prune() {
	live := map[string]bool{"": true} // requests no route took
	for _, name := range m.services() {
		live[name] = true
	}
	m.byService.Range(func(k, _ any) bool {
		if name := k.(string); !live[name] {
			m.ForgetService(name)
		}
		return true
	})
}

// ObserveRequest counts one finished request. upstream 0 means no backend
// answered.
func (m *Metrics) ObserveRequest(service string, status int, upstream time.Duration) {
	m.service(service).Observe(status, upstream)
}

// ServiceObserver returns the counters of one service's requests, for a
// caller that keeps them with the service (the proxy, with its route
// table's service) rather than naming the service on every request. What
// it returns counts as ObserveRequest(service, …) does, until the service
// is forgotten (ForgetService, prune); after that it counts into series no
// longer exported.
func (m *Metrics) ServiceObserver(service string) interface {
	Observe(status int, upstream time.Duration)
} {
	return m.service(service)
}

func (m *Metrics) service(service string) *serviceMetrics {
	sm, ok := m.byService.Load(service)
	if !ok {
		sm, _ = m.byService.LoadOrStore(service, m.newServiceMetrics(service))
	}
	return sm.(*serviceMetrics)
}

// Observe counts one finished request of its service (ObserveRequest).
func (s *serviceMetrics) Observe(status int, upstream time.Duration) {
	c := status/100 - 1
	if c < 0 || c > 4 {
		c = 5
	}
	s.classes[c].Inc()
	if upstream > 0 {
		s.upstream.Observe(upstream.Seconds())
	}
}

func (m *Metrics) newServiceMetrics(service string) *serviceMetrics {
	s := &serviceMetrics{upstream: m.upstreamTime.WithLabelValues(service)}
	for i, c := range classNames {
		s.classes[i] = m.requests.WithLabelValues(service, c)
	}
	return s
}

// ForgetService drops a deleted service's series.
func (m *Metrics) ForgetService(service string) {
	m.byService.Delete(service)
	for _, c := range classNames {
		m.requests.DeleteLabelValues(service, c)
	}
	m.upstreamTime.DeleteLabelValues(service)
}

// SetGeneration records the live table's generation.
func (m *Metrics) SetGeneration(gen uint64) { m.generation.Set(float64(gen)) }

// RegistryError counts a registry problem of the given kind (e.g.
// "bad_entry", "write").
func (m *Metrics) RegistryError(kind string) { m.registryErrors.WithLabelValues(kind).Inc() }

// ConnState returns an http.Server ConnState hook that keeps the open
// connection gauge of one entry point.
func (m *Metrics) ConnState(entrypoint string) func(net.Conn, http.ConnState) {
	g := m.conns.WithLabelValues(entrypoint)
	return func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			g.Inc()
		case http.StateClosed, http.StateHijacked:
			g.Dec()
		}
	}
}

// backendCollector reads per-address state at scrape time.
type backendCollector struct{ hosts *upstream.Set }

var (
	descUp       = prometheus.NewDesc("webrouter_backend_up", "1 if the backend address may take requests (passive and active health), else 0.", []string{"address"}, nil)
	descInFlight = prometheus.NewDesc("webrouter_backend_in_flight", "Requests and connections under way to the backend address.", []string{"address"}, nil)
	descStarted  = prometheus.NewDesc("webrouter_backend_requests_total", "Requests sent to the backend address.", []string{"address"}, nil)
)

func (c *backendCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descUp
	ch <- descInFlight
	ch <- descStarted
}

func (c *backendCollector) Collect(ch chan<- prometheus.Metric) {
	now := time.Now()
	for _, h := range c.hosts.Hosts() {
		up := 0.0
		if h.Up(now) {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up, h.Addr)
		ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(h.InFlight()), h.Addr)
		ch <- prometheus.MustNewConstMetric(descStarted, prometheus.CounterValue, float64(h.Total()), h.Addr)
	}
}
