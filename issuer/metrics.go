package issuer

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

type metrics struct {
	reg          *prometheus.Registry
	minted       *prometheus.CounterVec
	authFailures *prometheus.CounterVec
	latency      *prometheus.HistogramVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		minted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "issuer_tokens_minted_total", Help: "Tokens minted, by kind (handshake, realtime, dev_session).",
		}, []string{"kind"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "issuer_auth_failures_total", Help: "Rejected callers, by reason code.",
		}, []string{"reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "issuer_request_duration_seconds", Help: "Request latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}, []string{"route"}),
	}
	m.reg.MustRegister(m.minted, m.authFailures, m.latency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
