package api

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/auth"
	"github.com/vigilmon/vigil/collector/ingest"
	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/collector/store/pebble"
	"github.com/vigilmon/vigil/protocol"
)

// ingestFixture is the real API on a Pebble store, optionally wrapped.
type ingestFixture struct {
	srv   *httptest.Server
	store store.Store // the real store, for checks and tokens
	now   time.Time
	api   *API
}

func newIngestFixture(t *testing.T, wrap func(store.Store) store.Store) *ingestFixture {
	t.Helper()
	st, err := pebble.Open(t.TempDir(), pebble.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	f := &ingestFixture{store: st, now: time.UnixMilli(1_800_000_000_000)}
	var served store.Store = st
	if wrap != nil {
		served = wrap(st)
	}
	a := &API{Store: served, Log: slog.New(slog.DiscardHandler), Name: "coll-1",
		Now: func() time.Time { return f.now }, Validator: ingest.Validator{MaxAge: time.Hour}}
	f.srv = httptest.NewServer(a.Handler())
	f.api = a
	t.Cleanup(func() { f.srv.Close(); a.Wait(); st.Close() })
	return f
}

func (f *ingestFixture) token(t *testing.T, tenant string, role store.Role, agent string) string {
	t.Helper()
	tok, _, err := auth.Create(context.Background(), f.store, tenant, role, agent)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// batch holds one cpu result with n gauge metrics at the fixture's now.
func (f *ingestFixture) batch(seq uint64, n int) *protocol.Batch {
	cr := &protocol.CheckResult{Check: "cpu", TimestampMs: f.now.UnixMilli(), Status: protocol.Status_STATUS_OK}
	for i := 0; i < n; i++ {
		cr.Metrics = append(cr.Metrics, &protocol.Metric{Name: "m" + string(rune('a'+i)),
			Type: protocol.MetricType_METRIC_TYPE_GAUGE, Value: float64(i)})
	}
	return &protocol.Batch{Seq: seq, Results: []*protocol.CheckResult{cr}}
}

func frame(t *testing.T, b *protocol.Batch) []byte {
	t.Helper()
	buf, err := protocol.AppendFrame(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	return buf
}

type ingestReply struct {
	code       int
	retryAfter string
	ack        *protocol.Ack // set when the answer is a protobuf Ack
	err        apiError      // set when the answer is JSON
	body       string
}

func (f *ingestFixture) post(t *testing.T, token, agent, contentType string, body []byte) ingestReply {
	t.Helper()
	req, _ := http.NewRequest("POST", f.srv.URL+"/v1/ingest", bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if agent != "" {
		req.Header.Set(AgentHeader, agent)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := ingestReply{code: resp.StatusCode, body: string(b), retryAfter: resp.Header.Get("Retry-After")}
	switch resp.Header.Get("Content-Type") {
	case ProtobufType:
		var ack protocol.Ack
		if err := protocol.NewFrameReader(bytes.NewReader(b), protocol.DefaultMaxFrameBytes).Read(&ack); err != nil {
			t.Fatalf("decode ack: %v", err)
		}
		r.ack = &ack
	case "application/json":
		if err := json.Unmarshal(b, &r.err); err != nil {
			t.Fatalf("decode error %q: %v", b, err)
		}
	default:
		t.Fatalf("unexpected Content-Type %q: %s", resp.Header.Get("Content-Type"), b)
	}
	return r
}

func TestIngestStoresAndAcks(t *testing.T) {
	f := newIngestFixture(t, nil)
	tok := f.token(t, "acme", store.RoleAgent, "web-1")
	r := f.post(t, tok, "web-1", ProtobufType, frame(t, f.batch(7, 3)))
	if r.code != 200 || r.ack == nil {
		t.Fatalf("want 200 and an Ack, got %d %s", r.code, r.body)
	}
	if r.ack.Seq != 7 || r.ack.Accepted != 3 || r.ack.Rejected != 0 {
		t.Fatalf("ack = %v", r.ack)
	}
	series, err := f.store.Series(context.Background(), store.SeriesFilter{Tenant: "acme", Agent: "web-1", Check: "cpu"})
	if err != nil || len(series) != 3+2 { // and the check's status and duration
		t.Fatalf("series = %v, %v; want 5", series, err)
	}
	pts, err := f.store.Points(context.Background(), series[0].ID, 0, f.now.UnixMilli()+1, 0)
	if err != nil || len(pts) != 1 || pts[0].TS != f.now.UnixMilli() {
		t.Fatalf("points = %v, %v", pts, err)
	}
	// Resending is idempotent: still one point.
	if r := f.post(t, tok, "web-1", ProtobufType, frame(t, f.batch(7, 3))); r.code != 200 {
		t.Fatalf("resend: %d %s", r.code, r.body)
	}
	if pts, _ := f.store.Points(context.Background(), series[0].ID, 0, f.now.UnixMilli()+1, 0); len(pts) != 1 {
		t.Fatalf("after resend: %d points, want 1", len(pts))
	}
	agents, err := f.store.Agents(context.Background(), "acme")
	if err != nil || len(agents) != 1 {
		t.Fatalf("agents = %v, %v", agents, err)
	}
	if ag := agents[0]; ag.ID != "web-1" || !ag.LastSeen.Equal(f.now) || ag.Collector != "coll-1" || ag.Connected {
		t.Fatalf("agent record = %+v", ag)
	}
}

func TestIngestKeepsAgentRecord(t *testing.T) {
	f := newIngestFixture(t, nil)
	ctx := context.Background()
	if err := f.store.UpsertAgent(ctx, store.Agent{Tenant: "acme", ID: "web-1", Hostname: "web-1.example",
		Version: "1.2", Labels: map[string]string{"env": "prod"}, Connected: true, Collector: "coll-2"}); err != nil {
		t.Fatal(err)
	}
	tok := f.token(t, "acme", store.RoleAgent, "web-1")
	if r := f.post(t, tok, "web-1", ProtobufType, frame(t, f.batch(1, 1))); r.code != 200 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	agents, _ := f.store.Agents(ctx, "acme")
	ag := agents[0]
	if ag.Hostname != "web-1.example" || ag.Version != "1.2" || ag.Labels["env"] != "prod" ||
		!ag.Connected || ag.Collector != "coll-2" || !ag.LastSeen.Equal(f.now) {
		t.Fatalf("agent record = %+v", ag)
	}
}

func TestIngestRejectsBadPointsAlone(t *testing.T) {
	f := newIngestFixture(t, nil)
	tok := f.token(t, "acme", store.RoleAgent, "web-1")
	b := f.batch(3, 2)
	b.Results[0].Metrics = append(b.Results[0].Metrics, &protocol.Metric{Name: "bad name", Type: protocol.MetricType_METRIC_TYPE_GAUGE})
	r := f.post(t, tok, "web-1", ProtobufType, frame(t, b))
	if r.code != 200 || r.ack == nil || r.ack.Accepted != 2 || r.ack.Rejected != 1 || len(r.ack.Errors) != 1 {
		t.Fatalf("got %d %v %s", r.code, r.ack, r.body)
	}
}

// failingWrites is a store whose writes fail.
type failingWrites struct{ store.Store }

func (failingWrites) Write(context.Context, *store.WriteRequest) error {
	return errors.New("disk on fire")
}

func TestIngestStoreFailureIsNotAcked(t *testing.T) {
	f := newIngestFixture(t, func(s store.Store) store.Store { return failingWrites{s} })
	tok := f.token(t, "acme", store.RoleAgent, "web-1")
	r := f.post(t, tok, "web-1", ProtobufType, frame(t, f.batch(9, 1)))
	if r.code != http.StatusServiceUnavailable || r.ack != nil || r.err.Error.Code != "retry_later" || r.retryAfter == "" {
		t.Fatalf("want 503 retry_later with Retry-After, without an Ack, got %d %s", r.code, r.body)
	}
	if agents, _ := f.store.Agents(context.Background(), "acme"); len(agents) != 0 {
		t.Fatalf("a failed batch recorded the agent: %+v", agents)
	}
}

func TestIngestRefusals(t *testing.T) {
	f := newIngestFixture(t, nil)
	agentTok := f.token(t, "acme", store.RoleAgent, "web-1")
	good := frame(t, f.batch(1, 1))
	// A good frame, then a second one of the maximum size: over the limit.
	oversize := binary.AppendUvarint(append([]byte{}, good...), protocol.DefaultMaxFrameBytes)
	oversize = append(oversize, make([]byte, protocol.DefaultMaxFrameBytes)...)
	twoFrames := append(append([]byte{}, good...), good...)
	for _, c := range []struct {
		name              string
		token, agent, typ string
		body              []byte
		code              int
		errCode, message  string
	}{
		{"no token", "", "web-1", ProtobufType, good, 401, "unauthenticated", "Bearer"},
		{"unknown token", "vgl_" + strings.Repeat("A", 43), "web-1", ProtobufType, good, 401, "unauthenticated", "unknown or revoked"},
		{"read token", f.token(t, "acme", store.RoleRead, ""), "web-1", ProtobufType, good, 403, "forbidden", "role agent"},
		{"enroll token", f.token(t, "acme", store.RoleEnroll, ""), "web-1", ProtobufType, good, 403, "forbidden", "a enroll token"},
		{"other agent's token", agentTok, "web-2", ProtobufType, good, 403, "forbidden", `belongs to agent "web-1"`},
		{"no agent header", agentTok, "", ProtobufType, good, 400, "bad_request", AgentHeader},
		{"bad agent id", agentTok, "web 1", ProtobufType, good, 400, "bad_request", AgentHeader},
		{"wrong content type", agentTok, "web-1", "application/json", good, 415, "unsupported_media_type", ProtobufType},
		{"oversize body", agentTok, "web-1", ProtobufType, oversize, 413, "too_large", "4194314 bytes"},
		{"oversize frame header", agentTok, "web-1", ProtobufType, []byte{0xff, 0xff, 0xff, 0x7f}, 413, "too_large", "4194304"},
		{"garbage", agentTok, "web-1", ProtobufType, []byte("\x05hello"), 400, "bad_request", "protobuf Batch"},
		{"truncated", agentTok, "web-1", ProtobufType, good[:len(good)-1], 400, "bad_request", "truncated"},
		{"empty", agentTok, "web-1", ProtobufType, nil, 400, "bad_request", "empty"},
		{"two frames", agentTok, "web-1", ProtobufType, twoFrames, 400, "bad_request", "more than one frame"},
		{"empty frame", agentTok, "web-1", ProtobufType, []byte{0}, 400, "bad_request", "seq 0"},
		{"seq 0", agentTok, "web-1", ProtobufType, frame(t, f.batch(0, 1)), 400, "bad_request", "seq 0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := f.post(t, c.token, c.agent, c.typ, c.body)
			if r.code != c.code || r.ack != nil || r.err.Error.Code != c.errCode || !strings.Contains(r.err.Error.Message, c.message) {
				t.Fatalf("want %d %s containing %q, got %d %s", c.code, c.errCode, c.message, r.code, r.body)
			}
		})
	}
	// Without a Content-Length the limit holds while reading.
	t.Run("oversize chunked", func(t *testing.T) {
		req, _ := http.NewRequest("POST", f.srv.URL+"/v1/ingest", io.MultiReader(bytes.NewReader(oversize)))
		req.Header.Set("Authorization", "Bearer "+agentTok)
		req.Header.Set(AgentHeader, "web-1")
		req.Header.Set("Content-Type", ProtobufType)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if req.ContentLength != 0 || resp.StatusCode != 413 || !strings.Contains(string(b), "too_large") {
			t.Fatalf("content length %d: got %d %s", req.ContentLength, resp.StatusCode, b)
		}
	})
	if series, _ := f.store.Series(context.Background(), store.SeriesFilter{Tenant: "acme"}); len(series) != 0 {
		t.Fatalf("refused requests stored series: %v", series)
	}
}

func TestIngestBasicAuth(t *testing.T) {
	f := newIngestFixture(t, nil)
	tok := f.token(t, "acme", store.RoleAgent, "db-3")
	req, _ := http.NewRequest("POST", f.srv.URL+"/v1/ingest", bytes.NewReader(frame(t, f.batch(2, 1))))
	req.SetBasicAuth("any", tok)
	req.Header.Set(AgentHeader, "db-3")
	req.Header.Set("Content-Type", ProtobufType+"; proto=vigil.Batch")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if series, _ := f.store.Series(context.Background(), store.SeriesFilter{Tenant: "acme", Agent: "db-3"}); len(series) != 1+2 { // and the check's status and duration
		t.Fatalf("series = %v", series)
	}
}

func TestSeenAgentsThrottles(t *testing.T) {
	var s seenAgents
	t0 := time.Unix(1000, 0)
	if !s.due("a", t0) || s.due("a", t0.Add(seenEvery-time.Second)) || !s.due("b", t0) {
		t.Fatal("first sighting must be due, a repeat within seenEvery not")
	}
	if !s.due("a", t0.Add(seenEvery)) {
		t.Fatal("due again after seenEvery")
	}
	if !s.due("a", t0) {
		t.Fatal("a clock that went back must not silence an agent")
	}
}
