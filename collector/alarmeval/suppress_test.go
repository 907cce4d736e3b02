package alarmeval

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/alarm"
	"github.com/vigilmon/vigil/collector/alarmeval/suppression"
	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/protocol"
)

// TestSuppressionSilencesNotifications: during a maintenance window of
// web-1, its flip to CRITICAL is recorded (with the reason) but notified
// to no one, its recovery is notified (notify_on_recovery), web-2 out of
// scope is notified, and after the window notifications resume. The
// window is judged at each result's observation time. All observations
// lie within the alarm's window of lateness (some 30 s here), or the
// machine ignores them.
func TestSuppressionSilencesNotifications(t *testing.T) {
	st := openStore(t)
	h := newHook(t)
	setup(t, st, "acme", flipCriteria, h)
	ctx := context.Background()
	now := time.Now().Truncate(time.Second)
	w, err := alarm.ParseWindow(now.Add(-22*time.Second).UTC().Format(time.RFC3339) + "/" + now.Add(-12*time.Second).UTC().Format(time.RFC3339))
	if err != nil {
		t.Fatal(err)
	}
	sp := suppression.ToStore("acme", "maintenance", alarm.Suppression{ID: "maint", Scope: alarm.Scope{Agents: []string{"web-1"}},
		Windows: []alarm.Window{w}, NotifyOnRecovery: true})
	if err := st.PutSuppression(ctx, sp); err != nil {
		t.Fatal(err)
	}
	e, _ := start(t, Config{Store: st, Owner: "c1", LeaseTTL: time.Minute})
	for i, r := range []struct {
		agent string
		at    time.Duration
		v     float64
	}{
		{"web-1", -28 * time.Second, 1},  // NONE → OK, before the window
		{"web-1", -20 * time.Second, 99}, // OK → CRITICAL, suppressed
		{"web-2", -19 * time.Second, 1},  // NONE → OK
		{"web-2", -18 * time.Second, 99}, // OK → CRITICAL, out of scope: notified
		{"web-1", -16 * time.Second, 1},  // CRITICAL → OK, recovery notified
		{"web-1", -14 * time.Second, 99}, // OK → CRITICAL, suppressed
		{"web-1", -8 * time.Second, 1},   // CRITICAL → OK, after the window
		{"web-1", -4 * time.Second, 99},  // OK → CRITICAL, after the window
	} {
		b := &protocol.Batch{Seq: uint64(i + 1), Results: []*protocol.CheckResult{result("c", now.Add(r.at), r.v)}}
		e.Stored("acme", r.agent, b, storedOf(b))
	}
	waitFor(t, "8 transitions", func() bool { return e.Stats().Transitions == 8 })
	waitFor(t, "4 notifications", func() bool { return len(h.received()) >= 4 })
	var got []string
	for _, r := range h.received() {
		got = append(got, r.agent+":"+r.from+">"+r.state)
	}
	want := []string{"web-2:OK>CRITICAL", "web-1:CRITICAL>OK", "web-1:CRITICAL>OK", "web-1:OK>CRITICAL"}
	if !equal(got, want) {
		t.Fatalf("notified %v, want %v", got, want)
	}
	if s := e.Stats(); s.Suppressed != 2 {
		t.Errorf("stats %+v, want 2 suppressed", s)
	}
	ts, err := st.Transitions(ctx, "acme", "a1", 0)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for i := len(ts) - 1; i >= 0; i-- {
		if ts[i].Agent == "web-1" {
			msgs = append(msgs, ts[i].To+" "+ts[i].Message)
		}
	}
	wantMsgs := []string{"OK ", "CRITICAL v is 99 [suppressed by maint]", "OK [recovery notified during suppression maint]",
		"CRITICAL v is 99 [suppressed by maint]", "OK ", "CRITICAL v is 99"}
	if strings.Join(msgs, "|") != strings.Join(wantMsgs, "|") {
		t.Errorf("history\n got %q\nwant %q", msgs, wantMsgs)
	}
}

// TestSuppressionInvalidate: a suppression stored after the tenant's
// definitions were read applies once Invalidate is called, without
// waiting for the refresh.
func TestSuppressionInvalidate(t *testing.T) {
	st := openStore(t)
	h := newHook(t)
	setup(t, st, "acme", flipCriteria, h)
	ctx := context.Background()
	e, _ := start(t, Config{Store: st, Owner: "c1", LeaseTTL: time.Minute, Refresh: time.Hour})
	now := time.Now()
	b := &protocol.Batch{Seq: 1, Results: []*protocol.CheckResult{result("c", now.Add(-20*time.Second), 1)}}
	e.Stored("acme", "web-1", b, storedOf(b))
	waitFor(t, "NONE → OK", func() bool { return e.Stats().Transitions == 1 })
	w, _ := alarm.ParseWindow("daily 00:00-23:59 UTC")
	w2, _ := alarm.ParseWindow("daily 23:59-00:00 UTC")
	if err := st.PutSuppression(ctx, suppression.ToStore("acme", "", alarm.Suppression{ID: "all", Windows: []alarm.Window{w, w2}})); err != nil {
		t.Fatal(err)
	}
	e.Invalidate("acme")
	b = &protocol.Batch{Seq: 2, Results: []*protocol.CheckResult{result("c", now.Add(-10*time.Second), 99)}}
	e.Stored("acme", "web-1", b, storedOf(b))
	waitFor(t, "OK → CRITICAL", func() bool { return e.Stats().Transitions == 2 })
	if s := e.Stats(); s.Suppressed != 1 {
		t.Fatalf("stats %+v, want the transition suppressed", s)
	}
	if ns, _ := st.Notifications(ctx, "acme", 0); len(ns) != 0 {
		t.Fatalf("queued %d notifications", len(ns))
	}
}

// TestSuppressionStoreRoundTrip: what SuppressionToStore writes reads
// back the same, and the store's own validation accepts it.
func TestSuppressionStoreRoundTrip(t *testing.T) {
	var ws []alarm.Window
	for _, s := range []string{"2026-12-24T18:00:00+01:00/2026-12-27T08:00:00+01:00", "weekly Sat,Sun 02:00-04:00 Europe/Berlin", "monthly 1,15,last 03:00-05:00 America/New_York"} {
		w, err := alarm.ParseWindow(s)
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
	}
	in := alarm.Suppression{ID: "x", Scope: alarm.Scope{Agents: []string{"a", "b"}, Alarms: []string{"disk"}}, Windows: ws, NotifyOnRecovery: true}
	sp := suppression.ToStore("acme", "n", in)
	if err := sp.Validate(); err != nil {
		t.Fatal(err)
	}
	out, err := suppression.FromStore(sp)
	if err != nil {
		t.Fatal(err)
	}
	if suppression.ToStore("acme", "n", out) != sp {
		t.Fatalf("round trip\n got %+v\nwant %+v", suppression.ToStore("acme", "n", out), sp)
	}
	// A record with start and end (written by other means) is a one-shot
	// window.
	start := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	got, err := suppression.FromStore(store.Suppression{Tenant: "acme", ID: "y", Start: start, End: start.Add(time.Hour)})
	if err != nil || !got.Active(start) || got.Active(start.Add(time.Hour)) {
		t.Fatalf("one-shot from start/end: %+v, %v", got, err)
	}
	if _, err := suppression.FromStore(store.Suppression{Tenant: "acme", ID: "z", Recurring: "hourly"}); err == nil ||
		!strings.Contains(err.Error(), `suppression window "hourly"`) {
		t.Fatalf("bad window: %v", err)
	}
}
