package dnsserver

import (
	"errors"
	"sync/atomic"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's Prometheus metrics. Query counters are looked up once, not per query.
type metrics struct {
	queries   *prometheus.CounterVec
	byType    map[uint16]*counterRow // created up front; the counters in a row on first use
	other     *counterRow
	naptr, a  *counterRow
	transfers *prometheus.CounterVec
	notifies  *prometheus.CounterVec
	serial    *prometheus.GaugeVec
	records   *prometheus.GaugeVec
}

var (
	metricTypes = []uint16{dns.TypeA, dns.TypeNS, dns.TypeCNAME, dns.TypeSOA, dns.TypeAAAA, dns.TypeNAPTR, dns.TypeANY, dns.TypeAXFR, dns.TypeIXFR}
)

const metricRcodes = 24 // rcodes 0..23 by name, then "other"

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "signpost_dns_queries_total",
			Help: "DNS queries answered, by query type and response code."}, []string{"qtype", "rcode"}),
		transfers: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "signpost_dns_transfers_total",
			Help: "Zone transfers, by type (axfr, ixfr) and result (full, incremental, uptodate, refused, failed)."}, []string{"type", "result"}),
		notifies: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "signpost_dns_notifies_total",
			Help: "NOTIFY messages sent to secondaries, by result (acknowledged, failed)."}, []string{"result"}),
		serial: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "signpost_dns_zone_serial",
			Help: "SOA serial each zone is served at."}, []string{"zone"}),
		records: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "signpost_dns_zone_records",
			Help: "Records served in each zone (apex SOA and NS aside)."}, []string{"zone"}),
		byType: map[uint16]*counterRow{},
	}
	for _, t := range metricTypes {
		m.byType[t] = &counterRow{qtype: dns.TypeToString[t]}
	}
	m.other = &counterRow{qtype: "other"}
	m.naptr, m.a = m.byType[dns.TypeNAPTR], m.byType[dns.TypeA]
	if reg != nil {
		for _, c := range []prometheus.Collector{m.queries, m.transfers, m.notifies, m.serial, m.records} {
			if err := reg.Register(c); err != nil {
				var are prometheus.AlreadyRegisteredError
				if !errors.As(err, &are) {
					return nil, err
				}
			}
		}
	}
	return m, nil
}

func (m *metrics) query(qtype uint16, rcode int) {
	var r *counterRow
	switch qtype { // the common types without a map lookup
	case dns.TypeNAPTR:
		r = m.naptr
	case dns.TypeA:
		r = m.a
	default:
		var ok bool
		if r, ok = m.byType[qtype]; !ok {
			r = m.other
		}
	}
	if rcode < 0 || rcode >= metricRcodes {
		rcode = metricRcodes
	}
	c := r.c[rcode].Load()
	if c == nil {
		name, ok := dns.RcodeToString[rcode]
		if !ok || rcode == metricRcodes {
			name = "other"
		}
		cc := m.queries.WithLabelValues(r.qtype, name)
		c = &cc
		r.c[rcode].Store(c)
	}
	(*c).Inc()
}

// counterRow holds the query counters of one query type by rcode.
type counterRow struct {
	qtype string
	c     [metricRcodes + 1]atomic.Pointer[prometheus.Counter]
}

func (m *metrics) transfer(kind, result string) { m.transfers.WithLabelValues(kind, result).Inc() }
func (m *metrics) notify(result string)         { m.notifies.WithLabelValues(result).Inc() }

func (s *Server) gauges(z *zoneIdx) {
	s.mu.RLock()
	serial, records := z.serial(), z.records
	s.mu.RUnlock()
	s.m.serial.WithLabelValues(z.name).Set(float64(serial))
	s.m.records.WithLabelValues(z.name).Set(float64(records))
}

func (m *metrics) dropZone(name string) {
	m.serial.DeleteLabelValues(name)
	m.records.DeleteLabelValues(name)
}
