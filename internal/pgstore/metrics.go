package pgstore

import (
	"github.com/prometheus/client_golang/prometheus"
)

// poolCollector exports the connection pool's statistics (pgxpool.Stat), read at each scrape.
type poolCollector struct {
	db                                                    *DB
	conns, max, acquires, wait, empty, canceled, newConns *prometheus.Desc
}

// Collector returns the metrics of the connection pool, labelled with the schema (sml or smp), for the ops
// listener: connections by state, the pool's bound, and counters of acquisitions, of those that had to wait for a
// connection (the pool was exhausted: raise MaxConns or look for slow queries) and of the time spent waiting.
func (db *DB) Collector() prometheus.Collector {
	l := prometheus.Labels{"schema": db.Schema}
	d := func(name, help string, vars ...string) *prometheus.Desc {
		return prometheus.NewDesc("signpost_postgres_"+name, help, vars, l)
	}
	return &poolCollector{db: db,
		conns:    d("connections", "Connections of the pool by state: acquired (in use), idle, constructing.", "state"),
		max:      d("max_connections", "The pool's bound on connections."),
		acquires: d("acquires_total", "Connections taken from the pool."),
		wait:     d("acquire_seconds_total", "Time spent taking connections from the pool, waiting included."),
		empty:    d("empty_acquires_total", "Acquisitions that found no idle connection and waited for one to be made or freed."),
		canceled: d("canceled_acquires_total", "Acquisitions given up (their request ended) before a connection was free."),
		newConns: d("new_connections_total", "Connections opened to PostgreSQL."),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.conns, c.max, c.acquires, c.wait, c.empty, c.canceled, c.newConns} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	if c.db.Pool == nil {
		return
	}
	s := c.db.Pool.Stat()
	g := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}
	n := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	g(c.conns, float64(s.AcquiredConns()), "acquired")
	g(c.conns, float64(s.IdleConns()), "idle")
	g(c.conns, float64(s.ConstructingConns()), "constructing")
	g(c.max, float64(s.MaxConns()))
	n(c.acquires, float64(s.AcquireCount()))
	n(c.wait, s.AcquireDuration().Seconds())
	n(c.empty, float64(s.EmptyAcquireCount()))
	n(c.canceled, float64(s.CanceledAcquireCount()))
	n(c.newConns, float64(s.NewConnsCount()))
}
