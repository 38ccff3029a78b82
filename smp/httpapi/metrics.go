package httpapi

import (
	"errors"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signpost-project/signpost/internal/recovery"
)

type metrics struct {
	requests *prometheus.CounterVec
	hot      sync.Map // route NUL code -> prometheus.Counter
}

func newMetrics(r prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signpost_smp_requests_total", Help: "SMP HTTP requests (protocol, management and admin API) by route and HTTP status.",
		}, []string{"route", "code"}),
	}
	m.requests = register(r, m.requests)
	_ = recovery.Register(r)
	return m
}

// register registers c, or returns the collector already registered under its name (the public and the admin
// handler share the metrics of one registry).
func register[C prometheus.Collector](r prometheus.Registerer, c C) C {
	if err := r.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if ex, ok := are.ExistingCollector.(C); ok {
				return ex
			}
		}
	}
	return c
}

func (m *metrics) request(route string, code int) {
	key := route + "\x00" + strconv.Itoa(code)
	if c, ok := m.hot.Load(key); ok {
		c.(prometheus.Counter).Inc()
		return
	}
	c := m.requests.WithLabelValues(route, strconv.Itoa(code))
	m.hot.Store(key, c)
	c.Inc()
}
