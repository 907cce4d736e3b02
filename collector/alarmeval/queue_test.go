package alarmeval

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/alarm"
	"github.com/vigilmon/vigil/collector/notify"
	"github.com/vigilmon/vigil/collector/store"
)

// TestStoreQueue runs a notify.Deliverer over the store's queue: Notify
// enqueues under the fence (twice, one delivery), RunOnce sends and
// records it done; an unreadable payload is recorded failed, not retried.
func TestStoreQueue(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	h := newHook(t)
	l, ok, err := st.AcquireLease(ctx, "acme", 0, "me", time.Minute)
	if err != nil || !ok {
		t.Fatalf("lease: %v %v", ok, err)
	}
	q := NewStoreQueue(st, "acme", l.Fence())
	if err := q.AddReceiver("hook", mustJSON(h)); err != nil {
		t.Fatal(err)
	}
	if err := q.AddReceiver("bad", []byte(`{"type":"webhook"}`)); err == nil {
		t.Fatal("a webhook without url was accepted")
	}
	d := &notify.Deliverer{Queue: q, Receivers: q.Receivers()}
	n := notify.NewNotification("acme", "a1", "v high", notify.Transition{Agent: "web-1", Check: "c",
		From: alarm.StateOK, To: alarm.StateCritical, At: time.UnixMilli(1_800_000_000_000), Message: "v is 99"})
	for range 2 {
		if err := d.Notify(ctx, n, "hook"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Enqueue(ctx, l.Fence(), []store.Notification{{Key: "junk", Payload: []byte("{"), Due: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if sent, err := d.RunOnce(ctx); err != nil || sent != 1 {
		t.Fatalf("RunOnce: %d sent, %v", sent, err)
	}
	if got := h.received(); len(got) != 1 || got[0].key != n.Key || got[0].state != "CRITICAL" || got[0].agent != "web-1" {
		t.Fatalf("webhook got %+v", got)
	}
	ns, err := st.Notifications(ctx, "acme", 0)
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]store.NotificationStatus{}
	for _, n := range ns {
		status[n.Key] = n.Status
	}
	if len(ns) != 2 || status[n.Key+"/hook"] != store.NotificationDone || status["junk"] != store.NotificationFailed {
		t.Fatalf("queue %+v", ns)
	}
}

// FuzzPayload: whatever a queued payload holds, reading it neither
// panics nor yields a delivery that does not encode back the same.
func FuzzPayload(f *testing.F) {
	n := notify.NewNotification("acme", "a1", "x", notify.Transition{Agent: "w", Check: "c", From: alarm.StateNone,
		To: alarm.StateWarning, At: time.UnixMilli(1)})
	good, _ := json.Marshal(payload{Receiver: "r", Config: []byte(`{"type":"webhook","url":"http://127.0.0.1:1/"}`),
		Notification: encodeNotification(n)})
	f.Add(good)
	f.Add([]byte(`{"receiver":"r","config":{"type":"nope"},"notification":{"state":"OK"}}`))
	f.Add([]byte(`{"notification":{"state":"BAD"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		q := NewStoreQueue(nil, "acme", store.Fence{})
		d, err := q.delivery(store.Notification{Key: "k", Payload: data})
		if err != nil {
			return
		}
		again := encodeNotification(d.Notification)
		d2, err := (&again).decode()
		if err != nil || d2.State != d.Notification.State || len(d2.Transitions) != len(d.Notification.Transitions) {
			t.Fatalf("round trip: %+v, %v", d2, err)
		}
	})
}
