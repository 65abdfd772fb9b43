package proxy

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

type metrics struct {
	reg        *prometheus.Registry
	conns      prometheus.Gauge // all orgs together: org names are tenant data, and unbounded
	handshakes *prometheus.CounterVec
	messages   *prometheus.CounterVec
	slow       prometheus.Counter
	latency    prometheus.Histogram

	// Hot-path series, resolved once (WithLabelValues hashes its labels on every call).
	in, out, relayed prometheus.Counter
	accepted         prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		conns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "edgeproxy_connections", Help: "Open WebSocket connections (hub and forwarded), all orgs together.",
		}),
		handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgeproxy_handshakes_total", Help: "Handshakes by result (accepted, rejected, preflight) and reason code.",
		}, []string{"result", "reason"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgeproxy_messages_total", Help: "Messages by direction: in (from clients) and out (to clients).",
		}, []string{"direction"}),
		slow: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "edgeproxy_slow_consumers_total", Help: "Connections closed with 4008 because their send queue overflowed.",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "edgeproxy_handshake_duration_seconds", Help: "Time from request to upgrade or rejection.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1},
		}),
	}
	m.in, m.out, m.relayed = m.messages.WithLabelValues("in"), m.messages.WithLabelValues("out"), m.messages.WithLabelValues("relayed")
	m.accepted = m.handshakes.WithLabelValues("accepted", "ok")
	m.reg.MustRegister(m.conns, m.handshakes, m.messages, m.slow, m.latency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
