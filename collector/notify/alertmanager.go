package notify

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"time"

	"github.com/vigilmon/vigil/collector/alarm"
)

// AlertmanagerConfig configures a Prometheus Alertmanager receiver: a
// POST to its v2 API, so teams that run Alertmanager keep their routing,
// grouping, silences and inhibitions.
type AlertmanagerConfig struct {
	Type string `json:"type,omitempty"` // "alertmanager" in a parsed config
	// URL (required) is Alertmanager's base URL, e.g.
	// http://alertmanager:9093 (alerts go to URL + /api/v2/alerts).
	URL string `json:"url"`
	// Labels are added to every alert (e.g. team, env). Names follow
	// Prometheus' [a-zA-Z_][a-zA-Z0-9_]*; they may not replace the labels
	// Vigil sets.
	Labels map[string]string `json:"labels,omitempty"`
	// Headers are added to each request (e.g. Authorization for a proxy).
	Headers map[string]string `json:"headers,omitempty"`
	// Timeout bounds one attempt (default 10s, at most 2m).
	Timeout Duration `json:"timeout,omitempty"`
}

// Alertmanager is the Alertmanager v2 receiver.
type Alertmanager struct {
	http   httpSender
	labels map[string]string
}

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// The labels Vigil sets on each alert.
var reservedLabels = []string{"alertname", "severity", "tenant", "agent", "check", "vigil_alarm_id"}

// NewAlertmanager validates c and builds the receiver.
func NewAlertmanager(c AlertmanagerConfig) (*Alertmanager, error) {
	const kind = "alertmanager"
	if c.Type != "" && c.Type != kind {
		return nil, fieldError(kind, "type", "is %q", c.Type)
	}
	base, err := checkURL(kind, "url", c.URL)
	if err != nil {
		return nil, err
	}
	timeout, err := checkTimeout(kind, c.Timeout)
	if err != nil {
		return nil, err
	}
	header, err := checkHeaders(kind, c.Headers)
	if err != nil {
		return nil, err
	}
	for k, v := range c.Labels {
		if !labelName.MatchString(k) || strings.HasPrefix(k, "__") {
			return nil, fieldError(kind, "labels", "%q is not a label name ([a-zA-Z_][a-zA-Z0-9_]*, no leading __)", k)
		}
		for _, r := range reservedLabels {
			if k == r {
				return nil, fieldError(kind, "labels", "%q is set by Vigil", k)
			}
		}
		if v == "" {
			return nil, fieldError(kind, "labels", "%q has an empty value", k)
		}
	}
	// JoinPath keeps a path prefix (Alertmanager behind a proxy at
	// /alertmanager/) and any query.
	u := base.JoinPath("api/v2/alerts").String()
	return &Alertmanager{http: newHTTPSender(kind, u, timeout, header), labels: c.Labels}, nil
}

func (*Alertmanager) Type() string { return "alertmanager" }

type amAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations,omitempty"`
	StartsAt    string            `json:"startsAt,omitempty"`
	EndsAt      string            `json:"endsAt,omitempty"`
}

// firing says whether Alertmanager should see an alert in state s.
func firing(s alarm.State) bool {
	return s != alarm.StateOK && s != alarm.StateNone
}

// AlertmanagerAlerts is the request body for n: per transition, the
// alert for the state left, resolved (endsAt = the transition's time),
// when that state was firing, and the alert for the state entered
// (startsAt = the transition's time) unless it is OK. Severity is a
// label, so WARNING then CRITICAL are two alerts, and the WARNING one
// ends when CRITICAL starts.
//
// Firing alerts carry no endsAt, so Alertmanager ends them after its
// resolve_timeout (5m by default) unless they are sent again; Vigil
// sends a transition once, so set resolve_timeout to cover the longest
// an alarm may stay firing, until re-sending is wired (see the package
// doc).
func (a *Alertmanager) AlertmanagerAlerts(n Notification) ([]byte, error) {
	alerts := make([]amAlert, 0, 2*len(n.Transitions))
	name := n.AlarmName
	if name == "" {
		name = n.AlarmID
	}
	mk := func(t Transition, s alarm.State) amAlert {
		l := make(map[string]string, len(a.labels)+6)
		for k, v := range a.labels {
			l[k] = v
		}
		l["alertname"] = name
		l["vigil_alarm_id"] = n.AlarmID
		l["severity"] = strings.ToLower(s.String())
		// Alertmanager drops empty labels anyway; leaving them out keeps
		// the label sets of start and end identical.
		for k, v := range map[string]string{"tenant": n.Tenant, "agent": t.Agent, "check": t.Check} {
			if v != "" {
				l[k] = v
			}
		}
		ann := map[string]string{"idempotency_key": n.Key}
		summary := name + ": " + s.String() + " on " + t.Agent
		if t.Message != "" && s == t.To {
			ann["description"] = t.Message
		}
		ann["summary"] = summary
		return amAlert{Labels: l, Annotations: ann}
	}
	for _, t := range n.Transitions {
		at := t.At.UTC().Format(time.RFC3339Nano)
		if firing(t.From) {
			old := mk(t, t.From)
			old.EndsAt = at
			alerts = append(alerts, old)
		}
		if firing(t.To) {
			cur := mk(t, t.To)
			cur.StartsAt = at
			alerts = append(alerts, cur)
		}
	}
	return json.Marshal(alerts)
}

func (a *Alertmanager) Send(ctx context.Context, n Notification) error {
	body, err := a.AlertmanagerAlerts(n)
	if err != nil {
		return &SendError{Receiver: "alertmanager", Err: err}
	}
	if string(body) == "[]" {
		return nil // NONE -> OK: nothing Alertmanager knows about
	}
	return a.http.send(ctx, n.Key, body)
}
