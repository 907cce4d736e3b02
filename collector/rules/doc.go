// Package rules loads Prometheus alerting rule files and evaluates them
// per tenant with the PromQL engine (issue 16, "rules on series").
//
// Supported:
//   - Rule files as Prometheus reads them (model/rulefmt, the checks of
//     promtool check rules): groups with name, interval, query_offset,
//     limit and labels; alerting rules with alert, expr, for,
//     keep_firing_for, labels and annotations. Label names follow the
//     legacy (pre-UTF-8) scheme, as the collector's series do.
//   - Bounds (Limits): file size, groups per file, rules per group, each
//     expr through the query limits (length, nesting, subquery steps), a
//     minimum interval, alerts per rule (the group's limit if lower) and
//     expanded template size.
//   - Evaluation as Prometheus' AlertingRule.Eval: pending, then firing
//     once for has passed; keep_firing_for; resolved alerts kept 15 m
//     (ResolvedRetention) so their resolution can be sent. Alert labels
//     are the series' labels without __name__, the group's and rule's
//     labels (templated) and alertname; annotations are expanded with
//     Prometheus' template package ($labels, $value, query, humanize…),
//     a failure becoming the text "<error expanding template: …>". A
//     template's query runs per alert and evaluation, within the query
//     limits, as in Prometheus.
//   - A group's state as versioned JSON (GroupState) to persist and
//     Restore after a restart, and the JSON of /api/v1/rules and
//     /api/v1/alerts (RulesData, AlertsData).
//
// Not supported: recording rules are refused at load with
// ErrRecordingRule naming the rule (they would write series, which the
// store takes only from agents and the importer); native histograms in
// results; $externalLabels and $externalURL are empty.
//
// Wiring: the collector loads [rules] files per tenant into a Set
// (LoadSet), runs it (Set.Run, one Run loop per group) with the Prometheus
// API's engine (promapi.API.RuleQueryFunc), and serves RulesData and
// AlertsData at /prometheus/api/v1/rules and /alerts. GroupState is not
// persisted yet.
package rules
