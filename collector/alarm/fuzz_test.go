package alarm

import (
	"testing"
	"time"
)

var fuzzSeeds = []string{
	"",
	disk,
	`:set consecutiveCount=3
:set recoveryCount=2
:set consistencyLevel=ALL
# comment
/* block */
if (previous(metric['fp']) != metric['fp'] && rate(metric['rx']) > 5242880 || percentage(metric['used'], metric['total']) > 90) {
  return new AlarmStatus(CRITICAL, 'Fingerprint changed to: #{fp}');
} else if (metric['body'] regex ".*forbidden.*" || metric['banner'] nregex '^SSH') {
  return WARNING, "x"
} else {
  if ((metric['a'] == 1 || metric['b'] == 'q\'\u00e9') && metric['c'] >= -1.5e-3) { return OK }
}
return new AlarmStatus(OK);`,
	"if (metric['a'] > 1 {",
	"return OK, 'unterminated",
	"// no",
}

// FuzzParse: Parse never panics and is fast on any input; what it accepts
// prints to text that parses to the same criteria, and evaluates.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	r := res(StatusOK, "msg", t0, "a", 1, "b", "q", "used", 50, "total", 100, "rx", 10, "fp", "x", "body", "forbidden")
	prev := res(StatusOK, "", t0.Add(-time.Minute), "rx", 5, "fp", "y")
	f.Fuzz(func(t *testing.T, src string) {
		start := time.Now()
		c, err := Parse(src)
		if d := time.Since(start); d > time.Second {
			t.Fatalf("Parse of %d bytes took %v", len(src), d)
		}
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T %v is not an *Error", err, err)
			}
			return
		}
		printed := c.String()
		// Printing indents and spells out the short return form, so it
		// may outgrow the length limit; nothing else about it may differ.
		again, err := parse(printed, 1<<20)
		if err != nil {
			t.Fatalf("printed criteria do not parse: %v\n%s\nfrom\n%q", err, printed, src)
		}
		if again.String() != printed {
			t.Fatalf("reprinted\n%s\nwant\n%s", again.String(), printed)
		}
		if c.ConsecutiveCount() != again.ConsecutiveCount() || c.RecoveryCount() != again.RecoveryCount() || c.Conditionals() != again.Conditionals() {
			t.Fatalf("settings changed by printing")
		}
		o1, o2 := c.Evaluate(r, prev), again.Evaluate(r, prev)
		if o1 != o2 {
			t.Fatalf("evaluation changed by printing: %+v, then %+v", o1, o2)
		}
		c.Evaluate(r, nil)
	})
}

// FuzzDecodeState: decoding never panics; what decodes re-encodes to
// the same state, and the machine runs on it.
func FuzzDecodeState(f *testing.F) {
	var m Machine
	s := Settings{Period: 30 * time.Second, Trigger: 2, Recovery: 3}
	for i, st := range []State{StateCritical, StateCritical, StateOK, StateWarning} {
		m.Observe(s, t0.Add(time.Duration(i)*30*time.Second), Outcome{State: st, Message: "m" + st.String()}, t0.Add(time.Duration(i)*30*time.Second))
		b, _ := m.MarshalBinary()
		f.Add(b)
	}
	m.Hold(t0.Add(time.Hour))
	b, _ := m.MarshalBinary()
	f.Add(b)
	var a Agent
	a.Connected(t0)
	a.Disconnected(t0.Add(time.Minute))
	b, _ = a.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Machine
		if err := m.UnmarshalBinary(b); err == nil {
			enc, err := m.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var n Machine
			if err := n.UnmarshalBinary(enc); err != nil || n != m {
				t.Fatalf("re-decode %+v %v, want %+v", n, err, m)
			}
			now := time.UnixMilli(m.last).Add(time.Minute)
			m.Observe(s, now, Outcome{State: StateCritical}, now)
			m.Tick(s, now.Add(time.Hour))
			roundTrip(t, &m)
		}
		var a Agent
		if err := a.UnmarshalBinary(b); err == nil {
			enc, _ := a.MarshalBinary()
			var n Agent
			if err := n.UnmarshalBinary(enc); err != nil || n != a {
				t.Fatalf("agent re-decode %+v %v, want %+v", n, err, a)
			}
			a.Tick(time.Minute, time.UnixMilli(a.downSince).Add(time.Hour))
		}
	})
}
