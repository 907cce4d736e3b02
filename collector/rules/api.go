package rules

import (
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// The types below answer /api/v1/rules and /api/v1/alerts with
// Prometheus' JSON (web/api/v1: RuleDiscovery, RuleGroup, AlertingRule,
// AlertDiscovery, Alert); they are the "data" of the response envelope.

// RuleDiscovery is the data of /api/v1/rules.
type RuleDiscovery struct {
	RuleGroups []*RuleGroupJSON `json:"groups"`
}

// RuleGroupJSON is one group of /api/v1/rules.
type RuleGroupJSON struct {
	Name string `json:"name"`
	File string `json:"file"`
	// Rules are AlertingRuleJSON; Prometheus' any, for recording rules.
	Rules []any `json:"rules"`
	// Interval in seconds.
	Interval       float64   `json:"interval"`
	Limit          int       `json:"limit"`
	EvaluationTime float64   `json:"evaluationTime"`
	LastEvaluation time.Time `json:"lastEvaluation"`
}

// AlertingRuleJSON is one alerting rule of /api/v1/rules.
type AlertingRuleJSON struct {
	// State is "pending", "firing" or "inactive".
	State string `json:"state"`
	Name  string `json:"name"`
	Query string `json:"query"`
	// Duration and KeepFiringFor in seconds.
	Duration       float64           `json:"duration"`
	KeepFiringFor  float64           `json:"keepFiringFor"`
	Labels         map[string]string `json:"labels"`
	Annotations    map[string]string `json:"annotations"`
	Alerts         []*AlertJSON      `json:"alerts"`
	Health         string            `json:"health"`
	LastError      string            `json:"lastError,omitempty"`
	EvaluationTime float64           `json:"evaluationTime"`
	LastEvaluation time.Time         `json:"lastEvaluation"`
	// Type is "alerting".
	Type string `json:"type"`
}

// AlertDiscovery is the data of /api/v1/alerts.
type AlertDiscovery struct {
	Alerts []*AlertJSON `json:"alerts"`
}

// AlertJSON is one alert.
type AlertJSON struct {
	Labels          map[string]string `json:"labels"`
	Annotations     map[string]string `json:"annotations"`
	State           string            `json:"state"`
	ActiveAt        *time.Time        `json:"activeAt,omitempty"`
	KeepFiringSince *time.Time        `json:"keepFiringSince,omitempty"`
	// Value is formatted as Prometheus does ('e', shortest).
	Value string `json:"value"`
}

// RulesData returns the /api/v1/rules data of groups, in their order.
func RulesData(groups []*Group) *RuleDiscovery {
	out := &RuleDiscovery{RuleGroups: make([]*RuleGroupJSON, 0, len(groups))}
	for _, g := range groups {
		out.RuleGroups = append(out.RuleGroups, g.rulesJSON())
	}
	return out
}

// AlertsData returns the /api/v1/alerts data of groups: their pending and
// firing alerts.
func AlertsData(groups []*Group) *AlertDiscovery {
	out := &AlertDiscovery{Alerts: []*AlertJSON{}}
	for _, g := range groups {
		g.mu.Lock()
		for _, r := range g.rules {
			out.Alerts = append(out.Alerts, alertsJSON(r.alerts(false))...)
		}
		g.mu.Unlock()
	}
	return out
}

func (g *Group) rulesJSON() *RuleGroupJSON {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := &RuleGroupJSON{
		Name: g.Spec.Name, File: g.Spec.File,
		Rules:          make([]any, 0, len(g.rules)),
		Interval:       g.Spec.Interval.Seconds(),
		Limit:          g.Spec.Limit,
		EvaluationTime: g.evalDur.Seconds(),
		LastEvaluation: g.lastEval,
	}
	for _, r := range g.rules {
		j := &AlertingRuleJSON{
			State: r.state().String(), Name: r.Spec.Name, Query: r.Spec.Expr,
			Duration: r.Spec.For.Seconds(), KeepFiringFor: r.Spec.KeepFiringFor.Seconds(),
			Labels: r.Spec.Labels, Annotations: r.Spec.Annotations,
			Alerts: alertsJSON(r.alerts(false)),
			Health: r.health, EvaluationTime: r.evalDur.Seconds(), LastEvaluation: r.lastEval,
			Type: "alerting",
		}
		if r.lastErr != nil {
			j.LastError = r.lastErr.Error()
		}
		out.Rules = append(out.Rules, j)
	}
	return out
}

func alertsJSON(as []Alert) []*AlertJSON {
	out := make([]*AlertJSON, len(as))
	for i := range as {
		a := &as[i]
		out[i] = &AlertJSON{
			Labels: a.Labels.Map(), Annotations: a.Annotations.Map(),
			State: a.State.String(), ActiveAt: &a.ActiveAt,
			Value: strconv.FormatFloat(a.Value, 'e', -1, 64),
		}
		if !a.KeepFiringSince.IsZero() {
			out[i].KeepFiringSince = &a.KeepFiringSince
		}
	}
	return out
}

func sortAlerts(as []Alert) {
	slices.SortFunc(as, func(a, b Alert) int { return labels.Compare(a.Labels, b.Labels) })
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func parseFloat(s string) (float64, error) { return strconv.ParseFloat(s, 64) }
