package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/route"
)

// Streams exports the connection-level side: TCP ports, forwarded
// connections and certificates. certs is read at scrape time (the live
// table's certificates), conns too (connections being forwarded: TCP
// services and TLS passthrough). It returns the hook for port changes
// (tcpproxy.ManagerOptions.OnChange).
func (m *Metrics) Streams(certs func() []*route.Cert, conns func() int64) func(port int, service string, err error) {
	ports := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "webrouter_tcp_port_up", Help: "1 while the TCP port of a service listens, 0 while it cannot be opened (see GET /v1/routes for why).",
	}, []string{"port", "service"})
	m.reg.MustRegister(ports, &certCollector{certs: certs},
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "webrouter_forwarded_connections", Help: "Connections being forwarded to TCP services and TLS passthrough services.",
		}, func() float64 { return float64(conns()) }))
	seen := map[int]string{}
	return func(port int, service string, err error) {
		p := strconv.Itoa(port)
		if old, ok := seen[port]; ok && old != service {
			ports.DeleteLabelValues(p, old)
			delete(seen, port)
		}
		if service == "" {
			return
		}
		seen[port] = service
		up := 1.0
		if err != nil {
			up = 0
		}
		ports.WithLabelValues(p, service).Set(up)
	}
}

var (
	descCertExpiry = prometheus.NewDesc("webrouter_certificate_expiry_timestamp_seconds",
		"When the certificate expires (Unix time).", []string{"name", "source"}, nil)
	descCertSoon = prometheus.NewDesc("webrouter_certificate_expires_soon",
		"1 if the certificate expires within 14 days (or has expired), else 0.", []string{"name", "source"}, nil)
)

type certCollector struct{ certs func() []*route.Cert }

func (c *certCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descCertExpiry
	ch <- descCertSoon
}

func (c *certCollector) Collect(ch chan<- prometheus.Metric) {
	now := time.Now()
	for _, crt := range c.certs() {
		soon := 0.0
		if crt.Info.NotAfter.Sub(now) < catalog.ExpiryWarning {
			soon = 1
		}
		ch <- prometheus.MustNewConstMetric(descCertExpiry, prometheus.GaugeValue, float64(crt.Info.NotAfter.Unix()), crt.Name, crt.Source)
		ch <- prometheus.MustNewConstMetric(descCertSoon, prometheus.GaugeValue, soon, crt.Name, crt.Source)
	}
}
