package alarm

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultNoDataAfter is how many check periods without a result make an
// alarm NO_DATA when Settings.NoDataAfter is 0.
const DefaultNoDataAfter = 3

// maxStoredMessage bounds the message a Machine keeps: an interpolated
// message can outgrow MaxMessageLen by the metric values it substitutes.
const maxStoredMessage = 1024

// Settings are an alarm's counting rules for one check. They are passed
// to every call rather than kept in Machine, so that editing an alarm
// needs no rewrite of its stored states.
type Settings struct {
	// Period is the check's period.
	Period time.Duration
	// Trigger is how many observations of a state other than OK in a row
	// move the alarm there (consecutiveCount).
	Trigger int
	// Recovery is how many OK observations in a row move it back to OK.
	Recovery int
	// NoDataAfter is how many periods without a result make it NO_DATA;
	// 0 means DefaultNoDataAfter.
	NoDataAfter int
}

// Settings are c's counts with the check's period.
func (c *Criteria) Settings(period time.Duration) Settings {
	return Settings{Period: period, Trigger: c.ConsecutiveCount(), Recovery: c.RecoveryCount()}
}

// Validate refuses settings the machine cannot count with.
func (s Settings) Validate() error {
	if s.Period <= 0 {
		return fmt.Errorf("alarm settings: period %v must be positive", s.Period)
	}
	if s.Trigger < 1 || s.Trigger > MaxCount || s.Recovery < 1 || s.Recovery > MaxCount {
		return fmt.Errorf("alarm settings: trigger %d and recovery %d must be from 1 to %d", s.Trigger, s.Recovery, MaxCount)
	}
	if s.NoDataAfter < 0 {
		return fmt.Errorf("alarm settings: no-data after %d periods must not be negative", s.NoDataAfter)
	}
	return nil
}

// Window is how old an observation may be and still count: 1.5 × the
// larger count × the period, the reference's rule. An older one (a spooled
// batch delivered late) is history, never a reason to notify now.
func (s Settings) Window() time.Duration {
	n := max(s.Trigger, s.Recovery, 1)
	return time.Duration(n) * s.Period * 3 / 2
}

func (s Settings) noData() time.Duration {
	n := s.NoDataAfter
	if n == 0 {
		n = DefaultNoDataAfter
	}
	return time.Duration(n) * s.Period
}

// Transition is a change of an alarm's state for one agent: what a later
// stage records and notifies.
type Transition struct {
	From, To State
	// At is the scheduled time of the observation that completed the
	// count, or the clock's time for NO_DATA and AGENT_DOWN.
	At      time.Time
	Message string
}

// Effect says what an observation did to a Machine.
type Effect uint8

const (
	// EffectSame: it agreed with the current state (and reset a count
	// towards another state).
	EffectSame Effect = iota
	// EffectCounted: it counted towards another state, not yet reached.
	EffectCounted
	// EffectTransition: it completed a count; the Transition is valid.
	EffectTransition
	// EffectStale: not newer than the latest observation seen (a
	// duplicate or out of order); ignored.
	EffectStale
	// EffectLate: older than Settings.Window; ignored.
	EffectLate
	// EffectHeld: the agent is down (Hold); ignored.
	EffectHeld
	// EffectInvalid: the outcome's state is not one criteria give (OK,
	// WARNING, CRITICAL, UNKNOWN); ignored.
	EffectInvalid
)

var effectNames = [...]string{"same", "counted", "transition", "stale", "late", "held", "invalid"}

func (e Effect) String() string {
	if int(e) < len(effectNames) {
		return effectNames[e]
	}
	return fmt.Sprintf("Effect(%d)", e)
}

// Machine is the state of one alarm for one agent. The zero value is a
// new alarm (StateNone). It does no I/O and keeps no clock: callers pass
// observations and the time, and persist it with MarshalBinary.
type Machine struct {
	state     State
	candidate State // the state being counted towards; StateNone: none
	count     uint8
	held      bool
	since     int64 // ms: first use or last Release; NO_DATA counts from here without results
	entered   int64 // ms: when the current state was entered
	last      int64 // ms: latest observation time seen, counted or not
	message   string
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// State is the current state.
func (m *Machine) State() State { return m.state }

// Entered is when the current state was entered (zero for StateNone).
func (m *Machine) Entered() time.Time {
	if m.entered == 0 {
		return time.Time{}
	}
	return time.UnixMilli(m.entered)
}

// Message is the message of the transition into the current state.
func (m *Machine) Message() string { return m.message }

// Pending is the state being counted towards and its count so far.
func (m *Machine) Pending() (State, int) { return m.candidate, int(m.count) }

// Held says whether the machine is held because its agent is down.
func (m *Machine) Held() bool { return m.held }

func (m *Machine) start(now time.Time) {
	if m.since == 0 {
		m.since = ms(now)
	}
}

func (m *Machine) reset() { m.candidate, m.count = StateNone, 0 }

// Observe feeds the outcome of the result scheduled at at, with now the
// collector's clock; s should pass Validate. Observations must come in the order of at; one not
// newer than the latest seen is ignored, so a batch delivered twice
// counts once.
func (m *Machine) Observe(s Settings, at time.Time, o Outcome, now time.Time) (Transition, Effect) {
	m.start(now)
	if o.State < StateOK || o.State > StateUnknown {
		return Transition{}, EffectInvalid
	}
	t := ms(at)
	if t <= m.last {
		return Transition{}, EffectStale
	}
	m.last = t
	if m.held {
		return Transition{}, EffectHeld
	}
	if now.Sub(at) > s.Window() {
		return Transition{}, EffectLate
	}
	if o.State == m.state {
		m.reset()
		return Transition{}, EffectSame
	}
	if o.State != m.candidate {
		m.candidate, m.count = o.State, 0
	}
	m.count++
	need := s.Trigger
	if o.State == StateOK {
		need = s.Recovery
	}
	// Clamped, so that unvalidated settings cannot store a count the
	// decoder refuses.
	need = min(max(need, 1), MaxCount)
	if int(m.count) < need {
		return Transition{}, EffectCounted
	}
	return m.move(o.State, t, o.Message), EffectTransition
}

func (m *Machine) move(to State, at int64, msg string) Transition {
	msg = truncate(strings.ToValidUTF8(msg, "\uFFFD"), maxStoredMessage)
	tr := Transition{From: m.state, To: to, At: time.UnixMilli(at), Message: msg}
	m.state, m.entered, m.message = to, at, msg
	m.reset()
	return tr
}

// truncate cuts s to at most n bytes on a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Tick moves the alarm to NO_DATA when no result arrived for
// Settings.NoDataAfter periods; call it periodically for every alarm
// whose agent is connected. It reports the transition and whether there
// was one.
func (m *Machine) Tick(s Settings, now time.Time) (Transition, bool) {
	m.start(now)
	if m.held || m.state == StateNoData || s.Period <= 0 {
		return Transition{}, false
	}
	base := max(m.since, m.last)
	if ms(now)-base < s.noData().Milliseconds() {
		return Transition{}, false
	}
	msg := fmt.Sprintf("no result for %v (%d periods)", time.Duration(ms(now)-base)*time.Millisecond, s.noData()/s.Period)
	return m.move(StateNoData, ms(now), msg), true
}

// Hold stops the machine while its agent is down: observations are
// ignored, NO_DATA is not raised, the state stays. The agent's Agent
// reports the one transition.
func (m *Machine) Hold(now time.Time) {
	m.start(now)
	m.held = true
	m.reset()
}

// Release resumes a held machine when its agent is back; NO_DATA counts
// from now, not from the last result before the agent went down.
func (m *Machine) Release(now time.Time) {
	m.start(now)
	m.held = false
	m.since = ms(now)
	m.reset()
}

// Agent is the state of an agent's session: StateOK while connected,
// StateAgentDown once it has been gone longer than a grace period (so a
// reconnect, or a move to another collector, raises nothing). The zero
// value is an agent never seen.
type Agent struct {
	state     State
	downSince int64 // ms: when the session ended; 0 while connected
	entered   int64
}

// State is StateNone, StateOK or StateAgentDown.
func (a *Agent) State() State { return a.state }

// Connected records a session starting at at. Returns the transition from
// AGENT_DOWN to OK, if the agent was down.
func (a *Agent) Connected(at time.Time) (Transition, bool) {
	a.downSince = 0
	switch a.state {
	case StateAgentDown:
		tr := Transition{From: StateAgentDown, To: StateOK, At: at, Message: "agent connected"}
		a.state, a.entered = StateOK, ms(at)
		return tr, true
	case StateNone:
		a.state, a.entered = StateOK, ms(at)
	}
	return Transition{}, false
}

// Disconnected records the session ending at at. Hold the agent's check
// alarms now; AGENT_DOWN itself waits for the grace period (Tick).
func (a *Agent) Disconnected(at time.Time) {
	if a.downSince == 0 {
		a.downSince = ms(at)
	}
}

// Tick raises AGENT_DOWN once the session has been gone for grace.
func (a *Agent) Tick(grace time.Duration, now time.Time) (Transition, bool) {
	if a.downSince == 0 || a.state == StateAgentDown || ms(now)-a.downSince < grace.Milliseconds() {
		return Transition{}, false
	}
	tr := Transition{From: a.state, To: StateAgentDown, At: now,
		Message: "agent disconnected at " + time.UnixMilli(a.downSince).UTC().Format(time.RFC3339)}
	a.state, a.entered = StateAgentDown, ms(now)
	return tr, true
}

var errState = errors.New("alarm state")
