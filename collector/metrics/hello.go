package metrics

import "github.com/prometheus/client_golang/prometheus"

func (m *Metrics) registerHello() {
	m.hellosRefused = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_collector_hellos_refused_total",
		Help: "Agent Hellos refused, by reason: a Reject code (unauthenticated, forbidden, bad_request, unsupported_version, unavailable), " +
			"busy (too many handshakes in progress: the agent was told when to come back) or no_hello."}, []string{"reason"})
	m.reg.MustRegister(m.hellosRefused)
}

// HelloRefused counts an agent Hello the collector refused, by reason.
func (m *Metrics) HelloRefused(reason string) {
	if m != nil {
		m.hellosRefused.WithLabelValues(reason).Inc()
	}
}
