package smp

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests   *prometheus.CounterVec
	signatures *prometheus.CounterVec
	stored     prometheus.Counter
	resigned   prometheus.Counter
	generation prometheus.Gauge
	// hot holds the request counters of the common route/status pairs, resolved once.
	hot [numRoutes][numHotCodes]prometheus.Counter
}

// Routes of the read API, as metric labels.
const (
	routeGroup = iota
	routeMetadata
	routeGroup2
	routeMetadata2
	routeOther
	numRoutes
)

var routeNames = [numRoutes]string{"service_group", "service_metadata", "smp2_service_group", "smp2_service_metadata", "other"}

var hotCodes = [...]int{200, 304, 400, 404, 405}

const numHotCodes = len(hotCodes)

func newMetrics(r prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signpost_smp_requests_total", Help: "SMP read API requests by route and HTTP status.",
		}, []string{"route", "code"}),
		signatures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signpost_smp_signatures_total", Help: "XML signatures made, by profile (smp1: PEPPOL and OASIS 1.0, smp2: OASIS SMP 2.0).",
		}, []string{"profile"}),
		stored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "signpost_smp_documents_stored_total", Help: "Rendered documents written to the store.",
		}),
		resigned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "signpost_smp_resigned_groups_total", Help: "Service groups whose documents were re-signed or re-rendered after a key or layout change.",
		}),
		generation: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "signpost_smp_signing_key_generation", Help: "Generation of the key new documents are signed with.",
		}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.signatures, m.stored, m.resigned, m.generation} {
		if err := r.Register(c); err != nil {
			return nil, err
		}
	}
	for i := range numRoutes {
		for j, code := range hotCodes {
			m.hot[i][j] = m.requests.WithLabelValues(routeNames[i], strconv.Itoa(code))
		}
	}
	return m, nil
}

func (m *metrics) request(route, code int) {
	for j, c := range hotCodes {
		if c == code {
			m.hot[route][j].Inc()
			return
		}
	}
	m.requests.WithLabelValues(routeNames[route], strconv.Itoa(code)).Inc()
}
