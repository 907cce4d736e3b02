package alarmeval

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/quic-go/quic-go"

	"github.com/vigilmon/vigil/collector/alarm"
	"github.com/vigilmon/vigil/collector/api"
	"github.com/vigilmon/vigil/collector/auth"
	"github.com/vigilmon/vigil/collector/ingest"
	"github.com/vigilmon/vigil/collector/notify"
	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/collector/store/pebble"
	"github.com/vigilmon/vigil/protocol"
)

// hook is the webhook receiver: what it got, in order.
type hook struct {
	mu   sync.Mutex
	got  []received
	srv  *httptest.Server
	fail int // answer 503 to this many requests first
}

type received struct {
	key   string
	state string
	agent string
	from  string
}

func newHook(t *testing.T) *hook {
	h := &hook{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var n struct {
			State       string `json:"state"`
			Transitions []struct {
				Agent string `json:"agent"`
				From  string `json:"from"`
			} `json:"transitions"`
		}
		if err := json.Unmarshal(body, &n); err != nil || len(n.Transitions) != 1 {
			t.Errorf("webhook body %s: %v", body, err)
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.fail > 0 {
			h.fail--
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		rec := received{key: r.Header.Get("Idempotency-Key"), state: n.State}
		if len(n.Transitions) == 1 {
			rec.agent, rec.from = n.Transitions[0].Agent, n.Transitions[0].From
		}
		h.got = append(h.got, rec)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) received() []received {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]received(nil), h.got...)
}

func openStore(t testing.TB) *pebble.Store {
	st, err := pebble.Open(t.TempDir(), pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

const flipCriteria = `if (metric['v'] > 90) { return new AlarmStatus(CRITICAL, 'v is #{v}'); }
return new AlarmStatus(OK);`

// setup stores an alarm on check "c" of every agent with a plan that
// posts every state to the hook.
func setup(t *testing.T, st store.AlarmStore, tenant, criteria string, h *hook) store.Alarm {
	ctx := context.Background()
	cfg, _ := json.Marshal(map[string]string{"type": "webhook", "url": h.srv.URL})
	p := store.NotificationPlan{Tenant: tenant, ID: "p1", Name: "ops",
		Receivers: map[string][][]byte{"OK": {cfg}, "WARNING": {cfg}, "CRITICAL": {cfg}}}
	if err := st.PutPlan(ctx, p); err != nil {
		t.Fatal(err)
	}
	a, err := st.PutAlarm(ctx, store.Alarm{Tenant: tenant, ID: "a1", Name: "v high", Check: "c", Criteria: criteria,
		Period: 30 * time.Second, Plan: "p1", Created: time.Now(), Updated: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func start(t *testing.T, cfg Config) (*Evaluator, func()) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cfg.DeliveryInterval = 20 * time.Millisecond
	cfg.Retry = notify.RetryPolicy{Base: 10 * time.Millisecond, Max: 50 * time.Millisecond}
	e := New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.Run(ctx); close(done) }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return e, stop
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func result(check string, at time.Time, v float64) *protocol.CheckResult {
	return &protocol.CheckResult{Check: check, TimestampMs: at.UnixMilli(), Status: protocol.Status_STATUS_OK,
		Metrics: []*protocol.Metric{{Name: "v", Type: protocol.MetricType_METRIC_TYPE_GAUGE, Value: v}}}
}

func transitions(t *testing.T, st store.AlarmStore, tenant string) []string {
	ts, err := st.Transitions(context.Background(), tenant, "a1", 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(ts) - 1; i >= 0; i-- {
		out = append(out, ts[i].Agent+":"+ts[i].From+">"+ts[i].To)
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func selfSigned(t *testing.T) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// agentConn serves ingest over real QUIC on 127.0.0.1 with e as its
// observer and connects one agent of tenant.
func agentConn(t *testing.T, st *pebble.Store, e *Evaluator, tenant, agent string) func(results ...*protocol.CheckResult) {
	srv := &ingest.Server{Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Name: "test",
		Validator: ingest.Validator{MaxAge: time.Hour}, MaxInflight: 4, MaxFrameBytes: 64 << 10, HelloTimeout: time.Second,
		Observer: e}
	ln, err := srv.Listen("127.0.0.1:0", selfSigned(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = srv.Serve(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); ln.Close(); <-done })
	tok, _, err := auth.Create(context.Background(), st, tenant, store.RoleAgent, agent)
	if err != nil {
		t.Fatal(err)
	}
	dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer dcancel()
	conn, err := quic.DialAddr(dctx, ln.Addr().String(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{protocol.ALPN}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseWithError(0, "") })
	s, err := conn.OpenStreamSync(dctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := protocol.WriteFrame(s, &protocol.Hello{ProtocolVersion: 1, AgentId: agent, Token: tok}, protocol.DefaultMaxFrameBytes); err != nil {
		t.Fatal(err)
	}
	var reply protocol.HelloReply
	if err := protocol.NewFrameReader(s, protocol.DefaultMaxFrameBytes).Read(&reply); err != nil || reply.GetWelcome() == nil {
		t.Fatalf("hello: %v %v", &reply, err)
	}
	seq := uint64(0)
	return func(results ...*protocol.CheckResult) {
		t.Helper()
		seq++
		raw, _ := protocol.AppendFrame(nil, &protocol.Batch{Seq: seq, Results: results})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		bs, err := conn.OpenStreamSync(ctx)
		if err != nil {
			t.Fatal(err)
		}
		bs.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := bs.Write(raw); err != nil {
			t.Fatal(err)
		}
		bs.Close()
		var ack protocol.Ack
		if err := protocol.NewFrameReader(bs, protocol.DefaultMaxFrameBytes).Read(&ack); err != nil || ack.Seq != seq {
			t.Fatalf("ack %v: %v", &ack, err)
		}
	}
}

// TestIngestFlipNotifiesOncePerTransition drives results through real
// QUIC ingest into the evaluator, and a webhook gets exactly one
// notification per transition; a repeated batch and a late result fire
// nothing.
func TestIngestFlipNotifiesOncePerTransition(t *testing.T) {
	st := openStore(t)
	h := newHook(t)
	h.fail = 1 // the first delivery is retried
	setup(t, st, "acme", flipCriteria, h)
	e, _ := start(t, Config{Store: st, Owner: "c1", LeaseTTL: time.Second})
	send := agentConn(t, st, e, "acme", "web-1")
	send2 := agentConn(t, st, e, "acme", "web-2")

	now := time.Now()
	at := func(s int) time.Time { return now.Add(time.Duration(s-40) * time.Second) }
	send(result("c", at(0), 10))
	send(result("c", at(10), 95))
	send(result("c", at(10), 95)) // the same batch again: stale
	send(result("c", at(20), 97))
	send(result("c", at(30), 5))
	// web-2: a CRITICAL from a spool, older than the window, then an OK now.
	// Then, in one batch, one dated an hour ahead, which validation
	// refuses (not evaluated, or it would fire and make the next look
	// stale), and an OK now.
	send2(result("c", now.Add(-10*time.Minute), 99))
	send2(result("c", now.Add(time.Hour), 99), result("c", now, 1))

	want := []string{"web-1:NONE>OK", "web-1:OK>CRITICAL", "web-1:CRITICAL>OK", "web-2:NONE>OK"}
	waitFor(t, "transitions", func() bool {
		got := transitions(t, st, "acme")
		return len(got) >= len(want)
	})
	if got := transitions(t, st, "acme"); !equal(got, want) {
		t.Fatalf("transitions %v, want %v", got, want)
	}
	waitFor(t, "deliveries done", func() bool {
		ns, err := st.Notifications(context.Background(), "acme", 0)
		if err != nil {
			t.Fatal(err)
		}
		done := 0
		for _, n := range ns {
			if n.Status == store.NotificationDone {
				done++
			}
		}
		return done == 2 && len(ns) == 2
	})
	// A retried delivery does not hold back the next: the CRITICAL, sent
	// again after its 503, may arrive after the OK.
	got := h.received()
	if len(got) == 2 && got[0].state == "OK" {
		got[0], got[1] = got[1], got[0]
	}
	if len(got) != 2 || got[0].state != "CRITICAL" || got[0].from != "OK" || got[1].state != "OK" || got[1].from != "CRITICAL" {
		t.Fatalf("webhook got %+v, want OK>CRITICAL and CRITICAL>OK once each", got)
	}
	// The key is the transition's own, the same on any collector.
	wantKey := notify.Transition{Agent: "web-1", Check: "c", From: alarm.StateOK, To: alarm.StateCritical,
		At: time.UnixMilli(at(10).UnixMilli())}.Key("acme", "a1")
	if got[0].key != wantKey || got[0].key == got[1].key {
		t.Fatalf("idempotency keys %q, %q; want %q first", got[0].key, got[1].key, wantKey)
	}
	ns, _ := st.Notifications(context.Background(), "acme", 0)
	found := false
	for _, n := range ns {
		if n.Key == wantKey+"/"+receiverName("p1", "CRITICAL", 0, mustJSON(h)) {
			found = true
			if n.Attempts != 2 {
				t.Fatalf("the first delivery took %d attempts, want 2 (one 503, one retry)", n.Attempts)
			}
		}
	}
	if !found {
		t.Fatalf("no queued notification with key %s/...: %+v", wantKey, ns)
	}
	if s := e.Stats(); s.Dropped != 0 || s.Transitions != 4 {
		t.Fatalf("stats %+v", s)
	}
}

func mustJSON(h *hook) []byte {
	b, _ := json.Marshal(map[string]string{"type": "webhook", "url": h.srv.URL})
	return b
}

// TestFailover runs two evaluators on one store: only the lease holder
// evaluates, and when it stops mid-count the other finishes the count
// from the stored state: no transition lost, none doubled.
func TestFailover(t *testing.T) {
	st := openStore(t)
	h := newHook(t)
	setup(t, st, "acme", ":set consecutiveCount=2\n"+flipCriteria, h)
	a, stopA := start(t, Config{Store: st, Owner: "a", LeaseTTL: time.Second})
	b, _ := start(t, Config{Store: st, Owner: "b", LeaseTTL: time.Second})

	now := time.Now()
	at := func(s int) time.Time { return now.Add(time.Duration(s-80) * time.Second) }
	batch := func(s int, v float64) *protocol.Batch {
		return &protocol.Batch{Seq: uint64(s + 1), Results: []*protocol.CheckResult{result("c", at(s), v)}}
	}
	// Every batch reaches both, as if agents were spread over them.
	both := func(bt *protocol.Batch) {
		a.Stored("acme", "web-1", bt, storedOf(bt))
		b.Stored("acme", "web-1", bt, storedOf(bt))
	}
	a.Stored("acme", "web-1", batch(0, 1), storedOf(batch(0, 1)))
	waitFor(t, "a's lease", func() bool { return a.Held("acme") })
	b.Stored("acme", "web-1", batch(0, 1), storedOf(batch(0, 1)))
	both(batch(10, 1))
	both(batch(20, 99)) // counted towards CRITICAL by a
	waitFor(t, "a's evaluations", func() bool { return a.Stats().Results == 3 })
	if b.Held("acme") || b.Stats().Results != 0 {
		t.Fatalf("b evaluated without the lease: %+v", b.Stats())
	}
	stopA()
	waitFor(t, "b's lease", func() bool { return b.Held("acme") })
	for _, bt := range []*protocol.Batch{batch(30, 99) /* completes a's count */, batch(40, 1), batch(50, 1)} {
		b.Stored("acme", "web-1", bt, storedOf(bt))
	}
	want := []string{"web-1:NONE>OK", "web-1:OK>CRITICAL", "web-1:CRITICAL>OK"}
	waitFor(t, "transitions", func() bool { return len(transitions(t, st, "acme")) >= 3 })
	waitFor(t, "notifications", func() bool { return len(h.received()) >= 2 })
	if got := transitions(t, st, "acme"); !equal(got, want) {
		t.Fatalf("transitions %v, want %v", got, want)
	}
	if got := h.received(); len(got) != 2 || got[0].state != "CRITICAL" || got[1].state != "OK" {
		t.Fatalf("webhook got %+v", got)
	}
	// a's fence is dead: a write with it is refused.
	if err := st.PutAlarmStates(context.Background(), store.Fence{Tenant: "acme", Token: 1}, nil, nil); err == nil {
		t.Fatal("a stale fence was accepted")
	}
}

// storedOf is what validation accepts of a batch: all of it, here.
func storedOf(b *protocol.Batch) []store.CheckResult {
	var out []store.CheckResult
	for _, cr := range b.Results {
		out = append(out, store.CheckResult{Check: cr.Check, TS: cr.TimestampMs})
	}
	return out
}

// TestHTTPIngestEvaluates: POST /v1/ingest feeds the evaluator as QUIC
// ingest does.
func TestHTTPIngestEvaluates(t *testing.T) {
	st := openStore(t)
	h := newHook(t)
	setup(t, st, "acme", flipCriteria, h)
	e, _ := start(t, Config{Store: st, Owner: "c1", LeaseTTL: time.Second})
	a := &api.API{Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Name: "test",
		Validator: ingest.Validator{MaxAge: time.Hour}, Observer: e}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	tok, _, err := auth.Create(context.Background(), st, "acme", store.RoleAgent, "web-1")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i, v := range []float64{1, 99} {
		raw, _ := protocol.AppendFrame(nil, &protocol.Batch{Seq: uint64(i + 1),
			Results: []*protocol.CheckResult{result("c", now.Add(time.Duration(i-2)*10*time.Second), v)}})
		req, _ := http.NewRequest("POST", srv.URL+"/v1/ingest", bytes.NewReader(raw))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set(api.AgentHeader, "web-1")
		req.Header.Set("Content-Type", api.ProtobufType)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /v1/ingest: %s", resp.Status)
		}
	}
	waitFor(t, "the webhook", func() bool { return len(h.received()) == 1 })
	if got := transitions(t, st, "acme"); !equal(got, []string{"web-1:NONE>OK", "web-1:OK>CRITICAL"}) {
		t.Fatalf("transitions %v", got)
	}
	if got := h.received(); got[0].state != "CRITICAL" {
		t.Fatalf("webhook got %+v", got)
	}
}

// TestLabelledInstancesSurviveTakeover: a labelled result is one state per
// label set, stored under agent and label key and read back by the next
// lease holder.
func TestLabelledInstancesSurviveTakeover(t *testing.T) {
	st := openStore(t)
	h := newHook(t)
	setup(t, st, "acme", flipCriteria, h)
	now := time.Now()
	fs := func(s int, root, data float64) *protocol.Batch {
		lbl := func(m string) []*protocol.Label { return []*protocol.Label{{Key: "mount", Value: m}} }
		return &protocol.Batch{Seq: uint64(s + 1), Results: []*protocol.CheckResult{{Check: "c",
			TimestampMs: now.Add(time.Duration(s-30) * time.Second).UnixMilli(), Status: protocol.Status_STATUS_OK,
			Metrics: []*protocol.Metric{
				{Name: "v", Type: protocol.MetricType_METRIC_TYPE_GAUGE, Value: root, Labels: lbl("/")},
				{Name: "v", Type: protocol.MetricType_METRIC_TYPE_GAUGE, Value: data, Labels: lbl("/data")},
			}}}}
	}
	a, stopA := start(t, Config{Store: st, Owner: "a", LeaseTTL: time.Second})
	bt := fs(0, 99, 1)
	a.Stored("acme", "web-1", bt, storedOf(bt))
	waitFor(t, "a's transitions", func() bool { return a.Stats().Transitions == 2 })
	stopA()
	b, _ := start(t, Config{Store: st, Owner: "b", LeaseTTL: time.Second})
	bt = fs(10, 1, 1)
	b.Stored("acme", "web-1", bt, storedOf(bt))
	waitFor(t, "b's transition", func() bool { return b.Stats().Transitions == 1 })
	want := []string{`web-1{mount="/"}:NONE>CRITICAL`, `web-1{mount="/data"}:NONE>OK`, `web-1{mount="/"}:CRITICAL>OK`}
	got := transitions(t, st, "acme")
	if len(got) == 3 && got[0] != want[0] { // a's two share a time
		got[0], got[1] = got[1], got[0]
	}
	if !equal(got, want) {
		t.Fatalf("transitions %v, want %v", got, want)
	}
	waitFor(t, "notifications", func() bool { return len(h.received()) == 2 })
	for _, r := range h.received() {
		if r.agent != `web-1{mount="/"}` {
			t.Fatalf("webhook got %+v", h.received())
		}
	}
}

// TestFencedWriterStops: a collector whose lease was taken over (it was
// paused past its expiry, say) has its writes refused, stops evaluating
// the tenant and records nothing.
func TestFencedWriterStops(t *testing.T) {
	st := openStore(t)
	h := newHook(t)
	setup(t, st, "acme", flipCriteria, h)
	a, _ := start(t, Config{Store: st, Owner: "a", LeaseTTL: time.Minute})
	now := time.Now()
	bt := &protocol.Batch{Seq: 1, Results: []*protocol.CheckResult{result("c", now.Add(-20*time.Second), 1)}}
	a.Stored("acme", "web-1", bt, storedOf(bt))
	waitFor(t, "NONE → OK", func() bool { return a.Stats().Transitions == 1 })
	a.mu.Lock()
	l := a.held["acme"]
	a.mu.Unlock()
	// Another collector takes the lease as if a's had expired.
	ctx := context.Background()
	if err := st.ReleaseLease(ctx, l); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := st.AcquireLease(ctx, "acme", 0, "x", time.Minute); err != nil || !ok {
		t.Fatalf("steal: %v %v", ok, err)
	}
	bt = &protocol.Batch{Seq: 2, Results: []*protocol.CheckResult{result("c", now.Add(-10*time.Second), 99)}}
	a.Stored("acme", "web-1", bt, storedOf(bt))
	waitFor(t, "a to let go", func() bool { return !a.Held("acme") })
	if got := transitions(t, st, "acme"); !equal(got, []string{"web-1:NONE>OK"}) {
		t.Fatalf("transitions %v", got)
	}
	if ns, _ := st.Notifications(ctx, "acme", 0); len(ns) != 0 || a.Stats().Transitions != 1 {
		t.Fatalf("queued %+v, stats %+v", ns, a.Stats())
	}
}

// TestFullQueueDropsAndCounts: Stored never blocks; past the queue's size
// batches are dropped and counted on /metrics.
func TestFullQueueDropsAndCounts(t *testing.T) {
	e := New(Config{Store: openStore(t), Owner: "a", QueueSize: 1, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	reg := prometheus.NewRegistry()
	if err := e.Register(reg); err != nil {
		t.Fatal(err)
	}
	bt := &protocol.Batch{Seq: 1, Results: []*protocol.CheckResult{result("c", time.Now(), 1)}}
	for range 3 {
		e.Stored("acme", "web-1", bt, storedOf(bt)) // nothing runs: the queue fills
	}
	e.Stored("acme", "web-1", &protocol.Batch{Seq: 2}, nil) // nothing stored: not queued
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	dropped := -1.0
	for _, mf := range mfs {
		if mf.GetName() == "vigil_alarm_eval_dropped_batches_total" {
			dropped = mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	if dropped != 2 {
		t.Fatalf("vigil_alarm_eval_dropped_batches_total %v, want 2", dropped)
	}
	if s := e.Stats(); s.Dropped != 2 || len(e.jobs) != 1 {
		t.Fatalf("stats %+v, queue %d", s, len(e.jobs))
	}
}
