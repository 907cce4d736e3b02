package rules

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

func TestStateRoundTrip(t *testing.T) {
	st := newMemStore()
	g := setup(t, st, downRule, Limits{}, nil)
	for i := range 4 {
		st.add(minute(i), 0, "__name__", "up", "job", "node", "instance", "a")
		// b goes away after firing: kept firing, then resolved.
		if i < 3 {
			st.add(minute(i), 0, "__name__", "up", "job", "node", "instance", "b")
		} else {
			st.add(minute(i), 1, "__name__", "up", "job", "node", "instance", "b")
		}
		if i == 3 {
			st.add(minute(i), 0, "__name__", "up", "job", "node", "instance", "c")
		}
		if err := g.Eval(context.Background(), minute(i)); err != nil {
			t.Fatal(err)
		}
	}
	before := g.Alerts()
	if len(before) != 3 {
		t.Fatalf("%d alerts: %+v", len(before), before)
	}
	b, err := g.State().Encode()
	if err != nil {
		t.Fatal(err)
	}
	dec, err := DecodeState(b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if !reflect.DeepEqual(dec, g.State()) {
		t.Fatalf("decoded %+v\nwant %+v", dec, g.State())
	}

	// A new collector with the same rules carries on where it was.
	g2 := setup(t, st, downRule, Limits{}, nil)
	g2.Restore(dec)
	after := g2.Alerts()
	if !reflect.DeepEqual(after, before) {
		t.Fatalf("restored %+v\nwant %+v", after, before)
	}
	// c was pending since minute 3: it fires at 5, counting the restart.
	for _, i := range []int{4, 5} {
		st.add(minute(i), 0, "__name__", "up", "job", "node", "instance", "c")
		st.add(minute(i), 0, "__name__", "up", "job", "node", "instance", "a")
		if err := g2.Eval(context.Background(), minute(i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range AlertsData([]*Group{g2}).Alerts {
		if a.Labels["instance"] == "c" && (a.State != "firing" || !a.ActiveAt.Equal(minute(3))) {
			t.Errorf("c after restore: %+v", a)
		}
	}

	// A changed expression does not take the old state.
	g3 := setup(t, st, strings.Replace(downRule, "up == 0", "up == 1", 1), Limits{}, nil)
	g3.Restore(dec)
	if n := len(g3.Alerts()); n != 0 {
		t.Errorf("a changed rule restored %d alerts", n)
	}
}

func TestDecodeStateRefuses(t *testing.T) {
	ok := `{"v":1,"group":"g","rules":[{"name":"A","expr":"x","alerts":[{"labels":{"alertname":"A"},"state":"firing","value":"1","activeAt":5,"firedAt":6}]}]}`
	if _, err := DecodeState([]byte(ok)); err != nil {
		t.Fatalf("valid state: %v", err)
	}
	for _, tc := range []struct{ name, from, to, want string }{
		{"version", `"v":1`, `"v":2`, "version 2"},
		{"state", `"firing"`, `"burning"`, `state "burning"`},
		{"firing without firedAt", `,"firedAt":6`, ``, "firing without firedAt"},
		{"no alertname", `"alertname"`, `"x"`, "no alertname"},
		{"bad label", `"alertname":"A"`, `"alertname":"A","a-b":"c"`, "invalid label"},
		{"value", `"value":"1"`, `"value":"one"`, "value"},
		{"activeAt", `"activeAt":5`, `"activeAt":0`, "activeAt unset"},
		{"unknown field", `"group":"g"`, `"group":"g","x":1`, "unknown field"},
		{"trailing", `]}]}`, `]}]}{}`, "trailing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := strings.Replace(ok, tc.from, tc.to, 1)
			if in == ok {
				t.Fatal("the case changes nothing")
			}
			_, err := DecodeState([]byte(in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}

func FuzzDecodeState(f *testing.F) {
	f.Add([]byte(`{"v":1,"group":"g","rules":[{"name":"A","expr":"x","alerts":[{"labels":{"alertname":"A"},"state":"firing","value":"NaN","activeAt":5,"firedAt":6}]}]}`))
	f.Add([]byte(`{"v":1,"group":"g","rules":[]}`))
	spec := GroupSpec{Name: "g", Interval: DefaultInterval, Rules: []RuleSpec{{Name: "A", Expr: "x"}}}
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := DecodeState(b)
		if err != nil {
			return
		}
		// What decodes restores, re-encodes and decodes the same.
		g := NewGroup("t", spec, nil, Limits{}, nil)
		g.Restore(st)
		b2, err := g.State().Encode()
		if err != nil {
			t.Fatal(err)
		}
		st2, err := DecodeState(b2)
		if err != nil {
			t.Fatalf("re-encoded state refused: %v\n%s", err, b2)
		}
		if len(st2.Rules) != 1 {
			t.Fatalf("rules %d", len(st2.Rules))
		}
		_ = AlertsData([]*Group{g})
	})
}
