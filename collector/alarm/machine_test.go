package alarm

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// step is one event fed to a Machine in a table: an observation (state
// set), a tick, a hold or a release, at offset seconds after t0; now is
// at+delay.
type step struct {
	kind  string // "obs", "tick", "hold", "release"
	at    int    // seconds after t0: the observation's scheduled time, or the clock
	delay int    // obs: seconds between at and the clock
	state State
	want  string // "" for no transition, else "FROM>TO"
	eff   Effect // obs only
}

func obs(at int, s State, want string, eff Effect) step {
	return step{kind: "obs", at: at, state: s, want: want, eff: eff}
}

func TestMachine(t *testing.T) {
	const (
		ok   = StateOK
		warn = StateWarning
		crit = StateCritical
	)
	s := Settings{Period: 30 * time.Second, Trigger: 3, Recovery: 2}
	tests := []struct {
		name  string
		s     Settings
		steps []step
		final State
	}{
		{"first state after trigger count", s, []step{
			obs(0, crit, "", EffectCounted), obs(30, crit, "", EffectCounted), obs(60, crit, "NONE>CRITICAL", EffectTransition),
		}, crit},
		{"first OK after the recovery count", s, []step{
			obs(0, ok, "", EffectCounted), obs(30, ok, "NONE>OK", EffectTransition), obs(60, ok, "", EffectSame),
		}, ok},
		{"flapping never fires", s, []step{
			obs(0, ok, "", EffectCounted), obs(30, ok, "NONE>OK", EffectTransition),
			obs(60, crit, "", EffectCounted), obs(90, ok, "", EffectSame), obs(120, crit, "", EffectCounted),
			obs(150, crit, "", EffectCounted), obs(180, ok, "", EffectSame), obs(210, crit, "", EffectCounted),
			obs(240, warn, "", EffectCounted), obs(270, crit, "", EffectCounted), obs(300, crit, "", EffectCounted),
			obs(330, crit, "OK>CRITICAL", EffectTransition),
		}, crit},
		{"hysteresis: recovery needs its own count", Settings{Period: 30 * time.Second, Trigger: 1, Recovery: 3}, []step{
			obs(0, crit, "NONE>CRITICAL", EffectTransition),
			obs(30, ok, "", EffectCounted), obs(60, ok, "", EffectCounted), obs(90, crit, "", EffectSame),
			obs(120, ok, "", EffectCounted), obs(150, ok, "", EffectCounted), obs(180, ok, "CRITICAL>OK", EffectTransition),
			obs(210, warn, "OK>WARNING", EffectTransition), obs(240, crit, "WARNING>CRITICAL", EffectTransition),
		}, crit},
		{"late observations never fire", s, []step{
			obs(0, ok, "", EffectCounted), obs(30, ok, "NONE>OK", EffectTransition),
			// A spooled batch delivered at 1000 s: window 1.5×3×30 s = 135 s.
			{kind: "obs", at: 60, delay: 940, state: crit, eff: EffectLate},
			{kind: "obs", at: 90, delay: 910, state: crit, eff: EffectLate},
			{kind: "obs", at: 120, delay: 880, state: crit, eff: EffectLate},
			// Just inside the window: counts.
			{kind: "obs", at: 865, delay: 135, state: crit, eff: EffectCounted},
			{kind: "obs", at: 895, delay: 105, state: crit, eff: EffectCounted},
			{kind: "obs", at: 925, delay: 75, state: crit, want: "OK>CRITICAL", eff: EffectTransition},
		}, crit},
		{"duplicates and out of order count once", s, []step{
			obs(0, crit, "", EffectCounted), obs(0, crit, "", EffectStale), obs(30, crit, "", EffectCounted),
			obs(10, crit, "", EffectStale), obs(30, crit, "", EffectStale), obs(60, crit, "NONE>CRITICAL", EffectTransition),
		}, crit},
		{"no data after N periods, then recovery by count", s, []step{
			obs(0, ok, "", EffectCounted), obs(30, ok, "NONE>OK", EffectTransition),
			{kind: "tick", at: 119}, // 89 s after the last result: not yet
			{kind: "tick", at: 120, want: "OK>NO_DATA"},
			{kind: "tick", at: 500}, // no repeat
			obs(510, ok, "", EffectCounted), obs(540, ok, "NO_DATA>OK", EffectTransition),
		}, ok},
		{"no data without any result counts from the first tick", s, []step{
			{kind: "tick", at: 0}, {kind: "tick", at: 89}, {kind: "tick", at: 90, want: "NONE>NO_DATA"},
		}, StateNoData},
		{"no data after custom periods", Settings{Period: 10 * time.Second, Trigger: 1, Recovery: 1, NoDataAfter: 5}, []step{
			obs(0, warn, "NONE>WARNING", EffectTransition), {kind: "tick", at: 49}, {kind: "tick", at: 50, want: "WARNING>NO_DATA"},
		}, StateNoData},
		{"agent down holds: no transition, no no-data", s, []step{
			obs(0, ok, "", EffectCounted), obs(30, ok, "NONE>OK", EffectTransition),
			obs(60, crit, "", EffectCounted),
			{kind: "hold", at: 70},
			{kind: "tick", at: 1000},
			// The spool from the outage arrives while still held.
			{kind: "obs", at: 90, delay: 910, state: crit, eff: EffectHeld},
			{kind: "release", at: 2000},
			// Spooled results from the outage, delivered after reconnect: late.
			{kind: "obs", at: 120, delay: 1880, state: crit, eff: EffectLate},
			{kind: "obs", at: 150, delay: 1850, state: crit, eff: EffectLate},
			// NO_DATA counts from the release, not from the last result.
			{kind: "tick", at: 2089},
			obs(2010, ok, "", EffectSame),
			{kind: "tick", at: 2099},
			{kind: "tick", at: 2100, want: "OK>NO_DATA"},
		}, StateNoData},
		{"hold resets a pending count", s, []step{
			obs(0, ok, "", EffectCounted), obs(30, ok, "NONE>OK", EffectTransition),
			obs(60, crit, "", EffectCounted), obs(90, crit, "", EffectCounted),
			{kind: "hold", at: 95}, {kind: "release", at: 100},
			obs(120, crit, "", EffectCounted), obs(150, crit, "", EffectCounted), obs(180, crit, "OK>CRITICAL", EffectTransition),
		}, crit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.s.Validate(); err != nil {
				t.Fatal(err)
			}
			var m Machine
			for i, st := range tc.steps {
				at := t0.Add(time.Duration(st.at) * time.Second)
				var tr Transition
				var fired bool
				switch st.kind {
				case "obs":
					var eff Effect
					tr, eff = m.Observe(tc.s, at, Outcome{State: st.state, Message: st.state.String() + " msg"}, at.Add(time.Duration(st.delay)*time.Second))
					if eff != st.eff {
						t.Fatalf("step %d (%+v): effect %v, want %v", i, st, eff, st.eff)
					}
					fired = eff == EffectTransition
				case "tick":
					tr, fired = m.Tick(tc.s, at)
				case "hold":
					m.Hold(at)
				case "release":
					m.Release(at)
				}
				got := ""
				if fired {
					got = tr.From.String() + ">" + tr.To.String()
				}
				if got != st.want {
					t.Fatalf("step %d (%+v): transition %q, want %q", i, st, got, st.want)
				}
				if fired && st.kind == "obs" && (!tr.At.Equal(at) || tr.Message != st.state.String()+" msg") {
					t.Fatalf("step %d: transition at %v %q, want the observation's time %v and message", i, tr.At, tr.Message, at)
				}
				if fired && (m.State() != tr.To || !m.Entered().Equal(tr.At)) {
					t.Fatalf("step %d: machine in %v since %v after %+v", i, m.State(), m.Entered(), tr)
				}
				roundTrip(t, &m)
			}
			if m.State() != tc.final {
				t.Fatalf("final state %v, want %v", m.State(), tc.final)
			}
		})
	}
}

// roundTrip checks that m survives encoding, as a store would keep it.
func roundTrip(t *testing.T, m *Machine) {
	t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var n Machine
	if err := n.UnmarshalBinary(b); err != nil {
		t.Fatalf("decode %x: %v", b, err)
	}
	if n != *m {
		t.Fatalf("round trip\n%+v\nwant\n%+v", n, *m)
	}
}

func TestMachineMessage(t *testing.T) {
	s := Settings{Period: time.Minute, Trigger: 1, Recovery: 1}
	var m Machine
	long := "a" + strings.Repeat("é", maxStoredMessage/2) + "\xff" // cut mid-character
	tr, eff := m.Observe(s, t0, Outcome{State: StateCritical, Message: long}, t0)
	if eff != EffectTransition || len(tr.Message) > maxStoredMessage || tr.Message != m.Message() {
		t.Fatalf("effect %v, message of %d bytes", eff, len(tr.Message))
	}
	if !strings.HasPrefix(tr.Message, "aé") || len(tr.Message) != maxStoredMessage-1 || !utf8.ValidString(tr.Message) || strings.ContainsRune(tr.Message, utf8.RuneError) {
		t.Fatalf("message cut badly: %q", tr.Message[len(tr.Message)-8:])
	}
	roundTrip(t, &m)
	tr, fired := m.Tick(s, t0.Add(3*time.Minute))
	if !fired || tr.Message != "no result for 3m0s (3 periods)" || !tr.At.Equal(t0.Add(3*time.Minute)) {
		t.Fatalf("tick: %v %+v", fired, tr)
	}
}

// Callers' mistakes must not make a state the decoder refuses.
func TestMachineBadInput(t *testing.T) {
	var m Machine
	for _, st := range []State{StateNone, StateNoData, StateAgentDown, numStates} {
		if _, eff := m.Observe(Settings{Period: time.Second, Trigger: 1, Recovery: 1}, t0, Outcome{State: st}, t0); eff != EffectInvalid {
			t.Errorf("observing %v: %v, want invalid", st, eff)
		}
	}
	huge := Settings{Period: time.Second, Trigger: 100, Recovery: 100}
	for i := range 10 {
		at := t0.Add(time.Duration(i) * time.Second)
		tr, eff := m.Observe(huge, at, Outcome{State: StateCritical}, at)
		roundTrip(t, &m)
		if want := EffectCounted; i == MaxCount-1 {
			if eff != EffectTransition || tr.To != StateCritical {
				t.Fatalf("observation %d: %v %+v, want the transition at the clamped count", i, eff, tr)
			}
		} else if i < MaxCount-1 && eff != want {
			t.Fatalf("observation %d: %v", i, eff)
		}
	}
	if _, fired := m.Tick(Settings{}, t0.Add(time.Hour)); fired {
		t.Fatal("ticked to NO_DATA without a period")
	}
}

func TestSettings(t *testing.T) {
	c, err := Parse(":set consecutiveCount=2\n:set recoveryCount=4")
	if err != nil {
		t.Fatal(err)
	}
	s := c.Settings(30 * time.Second)
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if s.Trigger != 2 || s.Recovery != 4 || s.Window() != 180*time.Second {
		t.Fatalf("settings %+v window %v, want 2/4 and 180s", s, s.Window())
	}
	for _, bad := range []Settings{{Trigger: 1, Recovery: 1}, {Period: time.Second, Trigger: 0, Recovery: 1},
		{Period: time.Second, Trigger: 1, Recovery: 6}, {Period: time.Second, Trigger: 1, Recovery: 1, NoDataAfter: -1}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v validated", bad)
		}
	}
}

func TestAgent(t *testing.T) {
	var a Agent
	grace := time.Minute
	check := func(step string, tr Transition, fired bool, want string) {
		t.Helper()
		got := ""
		if fired {
			got = fmt.Sprintf("%v>%v", tr.From, tr.To)
		}
		if got != want {
			t.Fatalf("%s: transition %q, want %q", step, got, want)
		}
		b, err := a.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var n Agent
		if err := n.UnmarshalBinary(b); err != nil || n != a {
			t.Fatalf("%s: round trip %+v %v, want %+v", step, n, err, a)
		}
	}
	tr, fired := a.Connected(t0)
	check("first connect", tr, fired, "")
	a.Disconnected(t0.Add(10 * time.Second))
	tr, fired = a.Tick(grace, t0.Add(69*time.Second))
	check("within grace", tr, fired, "")
	tr, fired = a.Connected(t0.Add(20 * time.Second))
	check("reconnect within grace", tr, fired, "")
	tr, fired = a.Tick(grace, t0.Add(200*time.Second))
	check("connected", tr, fired, "")
	a.Disconnected(t0.Add(300 * time.Second))
	a.Disconnected(t0.Add(330 * time.Second)) // the first end counts
	tr, fired = a.Tick(grace, t0.Add(360*time.Second))
	check("after grace", tr, fired, "OK>AGENT_DOWN")
	if !tr.At.Equal(t0.Add(360*time.Second)) || a.State() != StateAgentDown {
		t.Fatalf("down at %v in %v", tr.At, a.State())
	}
	tr, fired = a.Tick(grace, t0.Add(999*time.Second))
	check("once", tr, fired, "")
	tr, fired = a.Connected(t0.Add(1000 * time.Second))
	check("back", tr, fired, "AGENT_DOWN>OK")
}

func TestDecodeBad(t *testing.T) {
	var m Machine
	good, _ := (&Machine{state: StateOK, candidate: StateCritical, count: 2, since: 1, entered: 2, last: 3, message: "m"}).MarshalBinary()
	if err := m.UnmarshalBinary(good); err != nil {
		t.Fatal(err)
	}
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	for name, b := range map[string][]byte{
		"empty":           nil,
		"version":         mod(func(b []byte) []byte { b[0] = 9; return b }),
		"agent encoding":  mod(func(b []byte) []byte { b[0] = agentV1; return b }),
		"state":           mod(func(b []byte) []byte { b[1] = byte(numStates); return b }),
		"agent state":     mod(func(b []byte) []byte { b[1] = byte(StateAgentDown); return b }),
		"no-data pending": mod(func(b []byte) []byte { b[2] = byte(StateNoData); return b }),
		"count zero":      mod(func(b []byte) []byte { b[3] = 0; return b }),
		"count too big":   mod(func(b []byte) []byte { b[3] = MaxCount; return b }),
		"flags":           mod(func(b []byte) []byte { b[4] = 2; return b }),
		"truncated":       good[:len(good)-1],
		"trailing":        append(append([]byte(nil), good...), 0),
		"message length":  mod(func(b []byte) []byte { b[len(b)-2] = 5; return b }),
		"message utf8":    mod(func(b []byte) []byte { b[len(b)-1] = 0xff; return b }),
	} {
		if err := m.UnmarshalBinary(b); err == nil {
			t.Errorf("%s: %x decoded", name, b)
		}
	}
	var a Agent
	if err := a.UnmarshalBinary(good); err == nil {
		t.Error("agent decoded a machine")
	}
	if err := a.UnmarshalBinary([]byte{agentV1, byte(StateCritical), 0, 0}); err == nil {
		t.Error("agent decoded CRITICAL")
	}
}
