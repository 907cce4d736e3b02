package pebble

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/collector/store/storetest"
)

func TestAlarmContract(t *testing.T) {
	storetest.RunAlarms(t, func(t *testing.T, l store.AlarmLimits) store.Store {
		opts := testOpts
		opts.AlarmLimits = l
		s, err := Open(t.TempDir(), opts)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

func TestAlarmContractReopen(t *testing.T) {
	storetest.RunAlarmsReopen(t, func(t *testing.T) func() (store.Store, error) {
		dir := t.TempDir()
		return func() (store.Store, error) { return Open(dir, testOpts) }
	})
}

// FuzzAlarmStateRoundTrip writes states and transitions under any names
// (NUL bytes included, which the key tuples escape) and reads them back.
func FuzzAlarmStateRoundTrip(f *testing.F) {
	f.Add("al", "web-1", []byte{1, 2, 3}, "OK", int64(1700000000000))
	f.Add("a\x00l", "web\x00\xff1", []byte{0}, "CRITICAL", int64(-1))
	f.Add("al", "", []byte("x"), "", int64(0))
	s := openTemp(f)
	l, ok, err := s.AcquireLease(f.Context(), "acme", 0, "fuzz", time.Minute)
	if err != nil || !ok {
		f.Fatalf("AcquireLease: %v, %v", ok, err)
	}
	f.Fuzz(func(t *testing.T, alarm, agent string, state []byte, to string, at int64) {
		st := store.AlarmState{Alarm: alarm, Agent: agent, State: state, Updated: time.UnixMilli(at)}
		tr := store.Transition{Alarm: alarm, Agent: agent, From: "OK", To: to, At: time.UnixMilli(at)}
		err := s.PutAlarmStates(t.Context(), l.Fence(), []store.AlarmState{st}, []store.Transition{tr})
		if store.ValidateStates(l.Fence(), []store.AlarmState{st}, []store.Transition{tr}) != nil {
			if err == nil {
				t.Fatal("an invalid state was stored")
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.AlarmStates(t.Context(), "acme", alarm)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(got, func(g store.AlarmState) bool { return g.Agent == agent })
		if i < 0 || !bytes.Equal(got[i].State, state) || got[i].Alarm != alarm || !got[i].Updated.Equal(st.Updated) {
			t.Fatalf("AlarmStates(%q) = %+v; want agent %q with %x", alarm, got, agent, state)
		}
		hist, err := s.Transitions(t.Context(), "acme", alarm, 0)
		if err == nil && len(hist) == s.alarmLimits.Transitions && !tr.At.After(hist[len(hist)-1].At) {
			return // trimmed at once: older than every one kept
		}
		if err != nil || !slices.ContainsFunc(hist, func(h store.Transition) bool { return h.Agent == agent && h.To == to && h.At.Equal(tr.At) }) {
			t.Fatalf("Transitions(%q) = %+v, %v; want %+v", alarm, hist, err, tr)
		}
	})
}

// Finished notifications older than the retention are deleted by a later
// enqueue; a pending one of that age stays.
func TestEnqueuePrunesOldNotifications(t *testing.T) {
	s := openTemp(t)
	l, ok, err := s.AcquireLease(t.Context(), "acme", 0, "a", time.Minute)
	if err != nil || !ok {
		t.Fatalf("AcquireLease: %v %v", ok, err)
	}
	f := l.Fence()
	old := time.Now().Add(-notificationRetention - time.Hour)
	note := func(key string, created time.Time) store.Notification {
		return store.Notification{Key: key, Alarm: "al", Payload: []byte(`{}`), Due: created, Created: created}
	}
	if _, err := s.Enqueue(t.Context(), f, []store.Notification{note("done", old), note("pending", old.Add(time.Minute))}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkNotification(t.Context(), "acme", "done", store.Delivery{Status: store.NotificationDone, At: old}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enqueue(t.Context(), f, []store.Notification{note("new", time.Now())}); err != nil {
		t.Fatal(err)
	}
	ns, err := s.Notifications(t.Context(), "acme", 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range ns {
		got = append(got, n.Key)
	}
	if want := []string{"new", "pending"}; !slices.Equal(got, want) {
		t.Fatalf("notifications after pruning: %v, want %v", got, want)
	}
}
