package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
)

// The state of a group is what a restart must not lose: each rule's
// alerts with their state and the times it changed (vmalert keeps the
// same in ALERTS_FOR_STATE). It is encoded as versioned JSON, so that
// the store can hold it as one value per tenant and group.

// stateVersion is the encoding's version; Decode refuses others.
const stateVersion = 1

// Bounds of a decoded state, whatever wrote it.
const (
	MaxStateBytes  = 64 << 20
	maxStateLabels = 256
)

// GroupState is the saved state of a group.
type GroupState struct {
	Version int         `json:"v"`
	Group   string      `json:"group"`
	Rules   []RuleState `json:"rules"`
}

// RuleState is the state of one rule, known by its name and expression:
// a changed expression starts afresh.
type RuleState struct {
	Name   string       `json:"name"`
	Expr   string       `json:"expr"`
	Alerts []AlertState `json:"alerts"`
}

// AlertState is one alert. Times are Unix milliseconds (0: unset); the
// value is a string so that NaN and ±Inf survive JSON.
type AlertState struct {
	Labels          map[string]string `json:"labels"`
	Annotations     map[string]string `json:"annotations,omitempty"`
	State           string            `json:"state"`
	Value           string            `json:"value"`
	ActiveAt        int64             `json:"activeAt"`
	FiredAt         int64             `json:"firedAt,omitempty"`
	ResolvedAt      int64             `json:"resolvedAt,omitempty"`
	KeepFiringSince int64             `json:"keepFiringSince,omitempty"`
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// State returns the group's state.
func (g *Group) State() GroupState {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := GroupState{Version: stateVersion, Group: g.Spec.Name, Rules: make([]RuleState, 0, len(g.rules))}
	for _, r := range g.rules {
		rs := RuleState{Name: r.Spec.Name, Expr: r.Spec.Expr, Alerts: []AlertState{}}
		for _, a := range r.alerts(true) {
			rs.Alerts = append(rs.Alerts, AlertState{
				Labels: a.Labels.Map(), Annotations: a.Annotations.Map(),
				State: a.State.String(), Value: formatFloat(a.Value),
				ActiveAt: ms(a.ActiveAt), FiredAt: ms(a.FiredAt),
				ResolvedAt: ms(a.ResolvedAt), KeepFiringSince: ms(a.KeepFiringSince),
			})
		}
		st.Rules = append(st.Rules, rs)
	}
	return st
}

// Encode encodes st.
func (st GroupState) Encode() ([]byte, error) {
	return json.Marshal(st)
}

// DecodeState decodes and checks an encoded GroupState: its version, the
// states, label names and values, and that times are set where the state
// needs them.
func DecodeState(b []byte) (GroupState, error) {
	var st GroupState
	if len(b) > MaxStateBytes {
		return st, fmt.Errorf("rule state: %d bytes; at most %d", len(b), MaxStateBytes)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&st); err != nil {
		return GroupState{}, fmt.Errorf("rule state: %w", err)
	}
	if d.More() {
		return GroupState{}, errors.New("rule state: trailing data after the state")
	}
	if st.Version != stateVersion {
		return GroupState{}, fmt.Errorf("rule state: version %d; this collector reads version %d", st.Version, stateVersion)
	}
	for i, r := range st.Rules {
		for j, a := range r.Alerts {
			if err := a.check(); err != nil {
				return GroupState{}, fmt.Errorf("rule state: group %q: rule %d (%q): alert %d: %w", st.Group, i+1, r.Name, j+1, err)
			}
		}
	}
	return st, nil
}

func (a *AlertState) check() error {
	if len(a.Labels) > maxStateLabels || len(a.Annotations) > maxStateLabels {
		return fmt.Errorf("more than %d labels or annotations", maxStateLabels)
	}
	if a.Labels[labels.AlertName] == "" {
		return errors.New("no alertname label")
	}
	for k, v := range a.Labels {
		if !model.LegacyValidation.IsValidLabelName(k) || !model.LabelValue(v).IsValid() {
			return fmt.Errorf("invalid label %q=%q", k, v)
		}
	}
	if _, err := parseFloat(a.Value); err != nil {
		return fmt.Errorf("value: %w", err)
	}
	s, ok := parseState(a.State)
	if !ok {
		return fmt.Errorf("state %q is not pending, firing or inactive", a.State)
	}
	switch {
	case a.ActiveAt <= 0:
		return errors.New("activeAt unset")
	case s == StateFiring && a.FiredAt <= 0:
		return errors.New("firing without firedAt")
	case s == StateInactive && a.ResolvedAt <= 0:
		return errors.New("inactive without resolvedAt")
	case a.FiredAt < 0 || a.ResolvedAt < 0 || a.KeepFiringSince < 0:
		return errors.New("negative time")
	}
	return nil
}

func parseState(s string) (State, bool) {
	switch s {
	case "pending":
		return StatePending, true
	case "firing":
		return StateFiring, true
	case "inactive":
		return StateInactive, true
	}
	return 0, false
}

// Restore replaces the alerts of the group's rules by those of st, for
// each rule whose name and expression are unchanged (rules that appear
// more than once are matched in order). Alerts of rules no longer in the
// group are dropped. The next Eval carries on from the restored state:
// a pending alert fires once its for has passed since activeAt, counting
// the time the collector was down, as vmalert does.
func (g *Group) Restore(st GroupState) {
	g.evalMu.Lock()
	defer g.evalMu.Unlock()
	g.mu.Lock()
	defer g.mu.Unlock()
	used := make([]bool, len(st.Rules))
	for _, r := range g.rules {
		for i := range st.Rules {
			rs := &st.Rules[i]
			if used[i] || rs.Name != r.Spec.Name || rs.Expr != r.Spec.Expr {
				continue
			}
			used[i] = true
			r.active = make(map[uint64]*Alert, len(rs.Alerts))
			for _, as := range rs.Alerts {
				s, _ := parseState(as.State)
				v, _ := parseFloat(as.Value)
				a := &Alert{
					Labels: labels.FromMap(as.Labels), Annotations: labels.FromMap(as.Annotations),
					State: s, Value: v,
					ActiveAt: fromMS(as.ActiveAt), FiredAt: fromMS(as.FiredAt),
					ResolvedAt: fromMS(as.ResolvedAt), KeepFiringSince: fromMS(as.KeepFiringSince),
				}
				r.active[a.Labels.Hash()] = a
			}
			break
		}
	}
}
