package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/vigilmon/vigil/collector/alarm"
)

// DefaultPagerDutyURL is PagerDuty's Events API v2 endpoint.
const DefaultPagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

// PagerDutyConfig configures a PagerDuty Events API v2 receiver.
type PagerDutyConfig struct {
	Type string `json:"type,omitempty"` // "pagerduty" in a parsed config
	// RoutingKey (required) is the integration key of a PagerDuty service
	// (32 characters).
	RoutingKey string `json:"routing_key"`
	// URL defaults to DefaultPagerDutyURL (tests and proxies set another).
	URL string `json:"url,omitempty"`
	// Timeout bounds one attempt (default 10s, at most 2m).
	Timeout Duration `json:"timeout,omitempty"`
}

// PagerDuty is the PagerDuty Events v2 receiver.
type PagerDuty struct {
	http       httpSender
	routingKey string
}

// NewPagerDuty validates c and builds the receiver.
func NewPagerDuty(c PagerDutyConfig) (*PagerDuty, error) {
	const kind = "pagerduty"
	if c.Type != "" && c.Type != kind {
		return nil, fieldError(kind, "type", "is %q", c.Type)
	}
	if c.RoutingKey == "" {
		return nil, fieldError(kind, "routing_key", "is required")
	}
	if len(c.RoutingKey) > 128 {
		return nil, fieldError(kind, "routing_key", "is %d characters, over 128", len(c.RoutingKey))
	}
	if c.URL == "" {
		c.URL = DefaultPagerDutyURL
	}
	if _, err := checkURL(kind, "url", c.URL); err != nil {
		return nil, err
	}
	timeout, err := checkTimeout(kind, c.Timeout)
	if err != nil {
		return nil, err
	}
	return &PagerDuty{http: newHTTPSender(kind, c.URL, timeout, nil), routingKey: c.RoutingKey}, nil
}

func (*PagerDuty) Type() string { return "pagerduty" }

// PagerDutyDedupKey is the dedup_key of an alarm's PagerDuty events:
// one per tenant and alarm, so a resolve closes what the trigger opened,
// and a repeated trigger (a retry, another collector's copy, a second
// state) is merged into the open incident rather than paging again.
func PagerDutyDedupKey(n Notification) string {
	h := sha256.New()
	fmt.Fprintf(h, "pd1:%d:%s:%d:%s", len(n.Tenant), n.Tenant, len(n.AlarmID), n.AlarmID)
	return "vigil-" + hex.EncodeToString(h.Sum(nil)[:16])
}

type pdEvent struct {
	RoutingKey  string     `json:"routing_key"`
	EventAction string     `json:"event_action"`
	DedupKey    string     `json:"dedup_key"`
	Payload     *pdPayload `json:"payload,omitempty"`
}

type pdPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     string         `json:"timestamp,omitempty"`
	Component     string         `json:"component,omitempty"`
	Group         string         `json:"group,omitempty"`
	Class         string         `json:"class,omitempty"`
	CustomDetails map[string]any `json:"custom_details,omitempty"`
}

func pdSeverity(s alarm.State) string {
	switch s {
	case alarm.StateCritical:
		return "critical"
	case alarm.StateWarning:
		return "warning"
	case alarm.StateUnknown, alarm.StateNoData, alarm.StateAgentDown:
		return "error"
	}
	return "info"
}

// PagerDutyEvent is the request body for n: a resolve for an OK
// notification, else a trigger with the summary (at most 1,024
// characters, PagerDuty's limit), severity, first agent as source, and
// the transitions and idempotency key as custom details.
func (p *PagerDuty) PagerDutyEvent(n Notification) ([]byte, error) {
	ev := pdEvent{RoutingKey: p.routingKey, EventAction: "trigger", DedupKey: PagerDutyDedupKey(n)}
	if n.Resolved() {
		ev.EventAction = "resolve"
		return json.Marshal(ev)
	}
	source := "vigil"
	if agents := n.Agents(); len(agents) == 1 {
		source = agents[0]
	}
	summary := n.Summary()
	if r := []rune(summary); len(r) > 1024 {
		summary = string(r[:1021]) + "..."
	}
	var ts string
	if len(n.Transitions) > 0 {
		ts = n.Transitions[0].At.UTC().Format(time.RFC3339Nano)
	}
	details := map[string]any{"tenant": n.Tenant, "alarm_id": n.AlarmID, "state": n.State.String(),
		"count": n.Count, "idempotency_key": n.Key}
	var ts_ []map[string]string
	for _, t := range n.Transitions {
		ts_ = append(ts_, map[string]string{"agent": t.Agent, "check": t.Check, "from": t.From.String(),
			"to": t.To.String(), "message": t.Message})
	}
	details["transitions"] = ts_
	ev.Payload = &pdPayload{Summary: summary, Source: source, Severity: pdSeverity(n.State), Timestamp: ts,
		Group: n.Tenant, Class: n.AlarmName, CustomDetails: details}
	return json.Marshal(ev)
}

func (p *PagerDuty) Send(ctx context.Context, n Notification) error {
	body, err := p.PagerDutyEvent(n)
	if err != nil {
		return &SendError{Receiver: "pagerduty", Err: err}
	}
	return p.http.send(ctx, n.Key, body)
}
