package notify

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/alarm"
)

// clock is a settable time for the Deliverer.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func newDeliverer(t *testing.T, rec *recorder, p RetryPolicy) (*Deliverer, *MemQueue, *clock) {
	t.Helper()
	w, err := NewWebhook(WebhookConfig{URL: rec.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	q := NewMemQueue()
	clk := &clock{t: t0}
	return &Deliverer{Queue: q, Receivers: map[string]Receiver{"ops": w}, Policy: p,
		Now: clk.Now, Rand: func() float64 { return 0.5 }, Log: slog.New(slog.DiscardHandler)}, q, clk
}

// drain runs the deliverer, jumping the clock to each retry, until
// nothing is pending; it returns the times of the attempts.
func drain(t *testing.T, d *Deliverer, q *MemQueue, clk *clock, id string) []time.Time {
	t.Helper()
	var at []time.Time
	for range 50 {
		n, err := d.RunOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			at = append(at, clk.Now())
		}
		del, _, ok := q.Get(id)
		if !ok {
			t.Fatalf("delivery %s not queued", id)
		}
		if del.Status != StatusPending {
			return at
		}
		if n == 0 {
			clk.Set(del.NextAt)
		}
	}
	t.Fatal("delivery never settled")
	return nil
}

func TestDelivererRetriesThenSucceeds(t *testing.T) {
	rec := newRecorder(t, response{status: 500}, response{status: 502}, response{status: 503})
	d, q, clk := newDeliverer(t, rec, RetryPolicy{Base: 10 * time.Second, Max: time.Minute, Jitter: 0.2})
	n := critical()
	// Enqueued twice (the caller retried): still one delivery.
	for range 2 {
		if err := d.Notify(context.Background(), n, "ops"); err != nil {
			t.Fatal(err)
		}
	}
	at := drain(t, d, q, clk, n.Key+"/ops")
	del, hist, _ := q.Get(n.Key + "/ops")
	if del.Status != StatusDelivered || del.Attempts != 4 || len(hist) != 4 {
		t.Fatalf("status %s attempts %d history %d", del.Status, del.Attempts, len(hist))
	}
	// Backoff 10s, 20s, 40s, each less 0.5·0.2 of itself.
	want := []time.Duration{0, 9 * time.Second, 27 * time.Second, 63 * time.Second}
	for i, a := range at {
		if got := a.Sub(t0); got != want[i] {
			t.Errorf("attempt %d at +%v, want +%v", i+1, got, want[i])
		}
	}
	if hist[0].Code != 500 || hist[0].Error == "" || hist[3].Code != 0 || hist[3].Error != "" {
		t.Errorf("history %+v", hist)
	}
	// The idempotency key is the same in every attempt.
	reqs := rec.requests()
	if len(reqs) != 4 {
		t.Fatalf("%d requests", len(reqs))
	}
	for i, r := range reqs {
		if k := r.header.Get("Idempotency-Key"); k != n.Key {
			t.Errorf("attempt %d key %q, want %q", i+1, k, n.Key)
		}
		if r.body != reqs[0].body {
			t.Errorf("attempt %d body differs", i+1)
		}
	}
}

func TestDelivererPermanentNotRetried(t *testing.T) {
	rec := newRecorder(t, response{status: 400, body: "bad payload"})
	d, q, clk := newDeliverer(t, rec, RetryPolicy{})
	n := critical()
	if err := d.Notify(context.Background(), n, "ops"); err != nil {
		t.Fatal(err)
	}
	drain(t, d, q, clk, n.Key+"/ops")
	del, _, _ := q.Get(n.Key + "/ops")
	if del.Status != StatusFailed || del.Attempts != 1 || del.Last.Code != 400 || len(rec.requests()) != 1 {
		t.Fatalf("status %s attempts %d last %+v requests %d", del.Status, del.Attempts, del.Last, len(rec.requests()))
	}
	clk.Set(t0.Add(48 * time.Hour))
	if n, _ := d.RunOnce(context.Background()); n != 0 {
		t.Errorf("failed delivery attempted again")
	}
}

func TestDelivererRetryAfter(t *testing.T) {
	rec := newRecorder(t, response{status: 429, retryAfter: "300"}, response{status: 503, retryAfter: "1"})
	d, q, clk := newDeliverer(t, rec, RetryPolicy{Base: 10 * time.Second, Jitter: 0.2})
	n := critical()
	_ = d.Notify(context.Background(), n, "ops")
	at := drain(t, d, q, clk, n.Key+"/ops")
	// 429 asked for 300s (longer than the 9s backoff); 503 asked for 1s,
	// shorter than the 18s backoff, which wins.
	if len(at) != 3 || at[1].Sub(at[0]) != 300*time.Second || at[2].Sub(at[1]) != 18*time.Second {
		t.Errorf("attempts at %v", at)
	}
}

func TestDelivererGivesUp(t *testing.T) {
	fail := make([]response, 20)
	for i := range fail {
		fail[i] = response{status: 500}
	}
	rec := newRecorder(t, fail...)
	d, q, clk := newDeliverer(t, rec, RetryPolicy{MaxAttempts: 3, Base: time.Second})
	n := critical()
	_ = d.Notify(context.Background(), n, "ops")
	drain(t, d, q, clk, n.Key+"/ops")
	if del, _, _ := q.Get(n.Key + "/ops"); del.Status != StatusFailed || del.Attempts != 3 {
		t.Errorf("MaxAttempts: status %s attempts %d", del.Status, del.Attempts)
	}

	rec = newRecorder(t, fail...)
	d, q, clk = newDeliverer(t, rec, RetryPolicy{MaxAge: 50 * time.Second, Base: 20 * time.Second, Jitter: 0.01})
	_ = d.Notify(context.Background(), n, "ops")
	drain(t, d, q, clk, n.Key+"/ops")
	// +0, +19.9s, then +59.7s would pass 50s: 2 attempts.
	if del, _, _ := q.Get(n.Key + "/ops"); del.Status != StatusFailed || del.Attempts != 2 {
		t.Errorf("MaxAge: status %s attempts %d", del.Status, del.Attempts)
	}
}

func TestDelivererUnknownReceiver(t *testing.T) {
	rec := newRecorder(t)
	d, _, _ := newDeliverer(t, rec, RetryPolicy{})
	if err := d.Notify(context.Background(), critical(), "nobody"); err == nil {
		t.Error("unknown receiver accepted")
	}
}

func TestBackoff(t *testing.T) {
	p := RetryPolicy{Base: time.Second, Max: time.Minute, Jitter: 0.5}
	for _, c := range []struct {
		attempts int
		r        float64
		want     time.Duration
	}{
		{1, 0, time.Second},
		{2, 0, 2 * time.Second},
		{6, 0, 32 * time.Second},
		{7, 0, time.Minute},
		{1000, 0, time.Minute},
		{1, 0.999999, 500*time.Millisecond + 500*time.Nanosecond},
		{0, 0, time.Second},
	} {
		if got := p.Backoff(c.attempts, c.r); got != c.want {
			t.Errorf("Backoff(%d, %v) = %v, want %v", c.attempts, c.r, got, c.want)
		}
	}
}

// TestGroupedDelivery: a fleet-wide failure is one notification.
func TestGroupedDelivery(t *testing.T) {
	rec := newRecorder(t)
	d, _, clk := newDeliverer(t, rec, RetryPolicy{})
	g := Grouper{Window: 30 * time.Second}
	for i := range 12 {
		g.Add("acme", "al1", "disk full", tr(string(rune('a'+i)), alarm.StateOK, alarm.StateCritical, t0, ""), t0.Add(time.Duration(i)*time.Second))
	}
	for _, n := range g.Flush(t0.Add(30 * time.Second)) {
		if err := d.Notify(context.Background(), n, "ops"); err != nil {
			t.Fatal(err)
		}
	}
	clk.Set(t0.Add(30 * time.Second))
	if n, err := d.RunOnce(context.Background()); n != 1 || err != nil {
		t.Fatalf("RunOnce = %d, %v", n, err)
	}

	if body := rec.only(t).body; !strings.Contains(body, `"count":12`) || !strings.Contains(body, `12 agents CRITICAL`) {
		t.Errorf("body %s", body)
	}
}

// TestDelivererRun: Run delivers on its own, on the real clock, and stops
// when its context ends.
func TestDelivererRun(t *testing.T) {
	rec := newRecorder(t, response{status: 503})
	w, err := NewWebhook(WebhookConfig{URL: rec.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	q := NewMemQueue()
	d := &Deliverer{Queue: q, Receivers: map[string]Receiver{"ops": w}, Log: slog.New(slog.DiscardHandler),
		Policy: RetryPolicy{Base: 20 * time.Millisecond, Max: 20 * time.Millisecond}}
	n := critical()
	if err := d.Notify(context.Background(), n, "ops"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- d.Run(ctx, 5*time.Millisecond) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if del, _, _ := q.Get(n.Key + "/ops"); del.Status == StatusDelivered {
			if del.Attempts != 2 {
				t.Errorf("attempts %d, want 2", del.Attempts)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not delivered within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-stopped; err != context.Canceled {
		t.Errorf("Run returned %v", err)
	}
}
