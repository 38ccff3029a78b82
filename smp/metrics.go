package smp

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	signatures *prometheus.CounterVec
	stored     prometheus.Counter
	resigned   prometheus.Counter
	conflicts  prometheus.Counter
	generation prometheus.Gauge
	// remoteChanges counts the write transactions of other nodes that Follow applied.
	remoteChanges prometheus.Counter
}

func newMetrics(r prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		signatures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signpost_smp_signatures_total", Help: "XML signatures made, by profile (smp1: PEPPOL and OASIS 1.0, smp2: OASIS SMP 2.0).",
		}, []string{"profile"}),
		stored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "signpost_smp_documents_stored_total", Help: "Rendered documents written to the store.",
		}),
		resigned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "signpost_smp_resigned_groups_total", Help: "Service groups whose documents were re-signed or re-rendered after a key or layout change.",
		}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "signpost_smp_write_conflicts_total", Help: "Writes planned and signed again because their service group changed meanwhile.",
		}),
		generation: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "signpost_smp_signing_key_generation", Help: "Generation of the key new documents are signed with.",
		}),
		remoteChanges: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "signpost_smp_remote_changes_total", Help: "Write transactions of other SMP nodes on the shared store applied to this node's cache.",
		}),
	}
	for _, c := range []prometheus.Collector{m.signatures, m.stored, m.resigned, m.conflicts, m.generation, m.remoteChanges} {
		if err := r.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
