package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigilmon/vigil/collector/alarm"
)

// Transition is one agent's check changing state under an alarm.
type Transition struct {
	Agent string
	Check string
	From  alarm.State
	To    alarm.State
	// At is the observation's (scheduled) time, as alarm.Transition.At.
	At      time.Time
	Message string
}

// Key is the transition's idempotency key: the same transition always
// gets the same key, whichever collector computes it and however often,
// so a receiver (or a queue) can drop a repeat.
func (t Transition) Key(tenant, alarmID string) string {
	h := sha256.New()
	// Length-prefixed fields: no field can forge another's boundary.
	for _, f := range []string{"t1", tenant, alarmID, t.Agent, t.Check, t.From.String(), t.To.String(),
		strconv.FormatInt(t.At.UnixNano(), 10)} {
		fmt.Fprintf(h, "%d:%s", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// MaxListed is how many transitions a grouped Notification carries; the
// rest are only counted (Count), so a fleet-wide failure is one bounded
// notification, not a 10,000-line one.
const MaxListed = 100

// Notification is what receivers send: one alarm's transitions to one
// state, for one tenant. A single transition is a group of one.
type Notification struct {
	Tenant    string
	AlarmID   string
	AlarmName string
	// State is the state every transition went to.
	State alarm.State
	// Transitions lists up to MaxListed of the group's transitions, in
	// the order they were added.
	Transitions []Transition
	// Count is the number of transitions in the group (>= len(Transitions)).
	Count int
	// Key is the idempotency key: the transition's key for a group of one,
	// else derived from every member's key (order-independent). Receivers
	// get it as a header, a dedup key, a Message-ID.
	Key string
}

// NewNotification builds the notification for one transition.
func NewNotification(tenant, alarmID, alarmName string, t Transition) Notification {
	return Notification{Tenant: tenant, AlarmID: alarmID, AlarmName: alarmName, State: t.To,
		Transitions: []Transition{t}, Count: 1, Key: t.Key(tenant, alarmID)}
}

// groupKey derives a group's key from its members' keys.
func groupKey(keys []string) string {
	if len(keys) == 1 {
		return keys[0]
	}
	s := slices.Clone(keys)
	slices.Sort(s)
	h := sha256.New()
	h.Write([]byte("g1"))
	for _, k := range s {
		h.Write([]byte{':'})
		h.Write([]byte(k))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Resolved says whether the notification reports a recovery.
func (n Notification) Resolved() bool { return n.State == alarm.StateOK }

// Agents lists the agents of the listed transitions, in order, without repeats.
func (n Notification) Agents() []string {
	var out []string
	for _, t := range n.Transitions {
		if !slices.Contains(out, t.Agent) {
			out = append(out, t.Agent)
		}
	}
	return out
}

// maxSummaryAgents bounds the agents named in a summary line.
const maxSummaryAgents = 10

// Summary is a one-line human description: "disk full: CRITICAL on web1
// (disk): 95% full" for one transition, "disk full: 12 agents CRITICAL
// (web1, web2, ... and 2 more)" for a group.
func (n Notification) Summary() string {
	name := n.AlarmName
	if name == "" {
		name = n.AlarmID
	}
	if n.Count <= 1 && len(n.Transitions) == 1 {
		t := n.Transitions[0]
		s := fmt.Sprintf("%s: %s on %s", name, n.State, t.Agent)
		if t.Check != "" {
			s += " (" + t.Check + ")"
		}
		if t.Message != "" {
			s += ": " + t.Message
		}
		return s
	}
	agents := n.Agents()
	noun := "agents"
	if n.Count == 1 {
		noun = "agent"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d %s %s", name, n.Count, noun, n.State)
	if len(agents) > 0 {
		shown := agents[:min(len(agents), maxSummaryAgents)]
		b.WriteString(" (" + strings.Join(shown, ", "))
		if rest := n.Count - len(shown); rest > 0 {
			fmt.Fprintf(&b, " and %d more", rest)
		}
		b.WriteString(")")
	}
	return b.String()
}

// jsonTransition and jsonNotification are the wire form of the default
// webhook body (and what templates' json function sees for a
// Notification): states by name, times in RFC 3339.
type jsonTransition struct {
	Agent   string    `json:"agent"`
	Check   string    `json:"check,omitempty"`
	From    string    `json:"from"`
	To      string    `json:"to"`
	At      time.Time `json:"at"`
	Message string    `json:"message,omitempty"`
	Key     string    `json:"idempotency_key"`
}

type jsonNotification struct {
	Tenant      string           `json:"tenant"`
	AlarmID     string           `json:"alarm_id"`
	AlarmName   string           `json:"alarm_name,omitempty"`
	State       string           `json:"state"`
	Resolved    bool             `json:"resolved"`
	Summary     string           `json:"summary"`
	Count       int              `json:"count"`
	Key         string           `json:"idempotency_key"`
	Transitions []jsonTransition `json:"transitions"`
}

// MarshalJSON writes the webhook's default body.
func (n Notification) MarshalJSON() ([]byte, error) {
	j := jsonNotification{Tenant: n.Tenant, AlarmID: n.AlarmID, AlarmName: n.AlarmName,
		State: n.State.String(), Resolved: n.Resolved(), Summary: n.Summary(), Count: n.Count,
		Key: n.Key, Transitions: make([]jsonTransition, len(n.Transitions))}
	for i, t := range n.Transitions {
		j.Transitions[i] = jsonTransition{Agent: t.Agent, Check: t.Check, From: t.From.String(),
			To: t.To.String(), At: t.At.UTC(), Message: t.Message, Key: t.Key(n.Tenant, n.AlarmID)}
	}
	return json.Marshal(j)
}
