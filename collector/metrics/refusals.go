package metrics

import "github.com/prometheus/client_golang/prometheus"

// refusals counts what the collector refused to a client before storing
// anything: Hellos and whole batches (points refused by validation are
// counted by Rejected).
type refusals struct {
	hellos  *prometheus.CounterVec // reason
	batches *prometheus.CounterVec // transport, reason
}

func newRefusals(reg *prometheus.Registry) *refusals {
	r := &refusals{
		hellos: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_collector_hellos_refused_total",
			Help: "Agent connections refused at Hello, by reason (no_hello, bad_hello, unauthenticated, forbidden, unbound_token, ...)."},
			[]string{"reason"}),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_collector_batches_refused_total",
			Help: "Batches answered with a refusal instead of an Ack, by transport (quic, https) and reason " +
				"(oversized, truncated, undecodable, empty, second_frame, store_deadline, store_failed, store_busy, revoked, ...)."},
			[]string{"transport", "reason"}),
	}
	reg.MustRegister(r.hellos, r.batches)
	return r
}

// HelloRefused counts one agent connection refused at Hello for reason.
func (m *Metrics) HelloRefused(reason string) {
	if m != nil {
		m.refused.hellos.WithLabelValues(reason).Inc()
	}
}

// BatchRefused counts one batch refused for reason on transport.
func (m *Metrics) BatchRefused(transport, reason string) {
	if m != nil {
		m.refused.batches.WithLabelValues(transport, reason).Inc()
	}
}
