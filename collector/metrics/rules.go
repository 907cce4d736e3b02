package metrics

import "github.com/prometheus/client_golang/prometheus"

// RuleStats are the alerting rules' counts at a scrape.
type RuleStats struct {
	// Evaluations and Failures count rule evaluations since start.
	Evaluations, Failures uint64
	// Firing is the alerts firing now.
	Firing int
}

// ShowRules exposes the alerting rules' evaluations, failures and firing
// alerts, read from stats at every scrape.
func (m *Metrics) ShowRules(stats func() RuleStats) {
	if m == nil {
		return
	}
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "vigil_collector_rule_evaluations_total",
			Help: "Alerting rule evaluations ([rules]), one per rule and group interval."},
			func() float64 { return float64(stats().Evaluations) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "vigil_collector_rule_evaluation_failures_total",
			Help: "Alerting rule evaluations that failed (the rule's health is err; /prometheus/api/v1/rules has lastError)."},
			func() float64 { return float64(stats().Failures) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "vigil_collector_rule_alerts_firing",
			Help: "Alerts of the alerting rules firing now, all tenants."},
			func() float64 { return float64(stats().Firing) }),
	)
}
