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
	mu       sync.RWMutex
	hot      map[routeCode]prometheus.Counter // resolved counters, so a request does not hash labels
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

type routeCode struct {
	route string
	code  int
}

func (m *metrics) request(route string, code int) {
	key := routeCode{route, code}
	m.mu.RLock()
	c, ok := m.hot[key]
	m.mu.RUnlock()
	if !ok {
		c = m.requests.WithLabelValues(route, strconv.Itoa(code))
		m.mu.Lock()
		if m.hot == nil {
			m.hot = map[routeCode]prometheus.Counter{}
		}
		m.hot[key] = c
		m.mu.Unlock()
	}
	c.Inc()
}
