package transport

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilmon/vigil/protocol"
)

// fakeIngest is a stand-in collector: it decodes the framed Batch and
// answers with an Ack, or with what fail says for this attempt.
type fakeIngest struct {
	attempts atomic.Int32
	// fail returns a status and JSON error for attempt n (1-based), or 0.
	fail func(n int) (int, string)
	// ackSeq, if set, overrides the Ack's seq.
	ackSeq func(seq uint64) uint64
}

func (f *fakeIngest) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := int(f.attempts.Add(1))
	if r.Method != "POST" || r.URL.Path != "/prefix/v1/ingest" {
		http.Error(w, "wrong endpoint "+r.Method+" "+r.URL.Path, 404)
		return
	}
	if r.Header.Get("Authorization") != "Bearer vgl_secret" || r.Header.Get(agentHeader) != "web-1" ||
		r.Header.Get("Content-Type") != protobufType {
		http.Error(w, fmt.Sprintf("bad headers %v", r.Header), 400)
		return
	}
	var b protocol.Batch
	if err := protocol.NewFrameReader(r.Body, protocol.DefaultMaxFrameBytes).Read(&b); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	if f.fail != nil {
		if code, msg := f.fail(n); code != 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			fmt.Fprintf(w, `{"error": {"code": "x", "message": %q}}`, msg)
			return
		}
	}
	seq := b.Seq
	if f.ackSeq != nil {
		seq = f.ackSeq(seq)
	}
	ack, _ := protocol.AppendFrame(nil, &protocol.Ack{Seq: seq, Accepted: uint32(len(b.Results[0].Metrics))})
	w.Header().Set("Content-Type", protobufType)
	_, _ = w.Write(ack) // a failed write shows as the sender's error
}

// tlsServer starts h over TLS and returns its URL (with a path prefix) and
// a CA file that verifies it.
func tlsServer(t *testing.T, h http.Handler) (string, string) {
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return srv.URL + "/prefix/", ca
}

func testBatch(seq uint64) *protocol.Batch {
	return &protocol.Batch{Seq: seq, Results: []*protocol.CheckResult{{
		Check: "cpu", TimestampMs: time.Now().UnixMilli(), Status: protocol.Status_STATUS_OK,
		Metrics: []*protocol.Metric{{Name: "usage_percent", Type: protocol.MetricType_METRIC_TYPE_GAUGE, Value: 12.5}},
	}}}
}

func newTestClient(t *testing.T, url, ca string, log *slog.Logger) *HTTPSClient {
	t.Helper()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c, err := NewHTTPSClient(url, TLSConfig{CAFile: ca}, "web-1", "vgl_secret", log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestHTTPSSend(t *testing.T) {
	f := &fakeIngest{}
	url, ca := tlsServer(t, f)
	c := newTestClient(t, url, ca, nil)
	if !strings.HasSuffix(c.URL(), "/prefix/v1/ingest") {
		t.Fatalf("URL = %s", c.URL())
	}
	for seq := uint64(1); seq <= 3; seq++ {
		ack, err := c.Send(context.Background(), testBatch(seq))
		if err != nil {
			t.Fatal(err)
		}
		if ack.Seq != seq || ack.Accepted != 1 {
			t.Fatalf("ack = %v", ack)
		}
	}
}

func TestHTTPSRetriesUnavailable(t *testing.T) {
	f := &fakeIngest{fail: func(n int) (int, string) {
		if n <= 2 {
			return 503, "the store failed"
		}
		return 0, ""
	}}
	url, ca := tlsServer(t, f)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := newTestClient(t, url, ca, log)
	c.client.RetryWaitMin, c.client.RetryWaitMax = time.Millisecond, 5*time.Millisecond
	ack, err := c.Send(context.Background(), testBatch(5))
	if err != nil || ack.Seq != 5 {
		t.Fatalf("ack %v, err %v", ack, err)
	}
	if n := f.attempts.Load(); n != 3 {
		t.Fatalf("%d attempts, want 3", n)
	}
	if !strings.Contains(logs.String(), "level=DEBUG msg=\"retrying request\"") || strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("retryablehttp's logging is not at debug level:\n%s", logs.String())
	}
}

func TestHTTPSGivesUpWithTheCollectorsReason(t *testing.T) {
	f := &fakeIngest{fail: func(int) (int, string) { return 503, "the store failed; try again" }}
	url, ca := tlsServer(t, f)
	c := newTestClient(t, url, ca, nil)
	c.client.RetryWaitMin, c.client.RetryWaitMax = time.Millisecond, 5*time.Millisecond
	_, err := c.Send(context.Background(), testBatch(5))
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != 503 || he.Message != "the store failed; try again" || he.Permanent() {
		t.Fatalf("err = %v", err)
	}
	if n := f.attempts.Load(); n != 3 {
		t.Fatalf("%d attempts, want 3 (bounded retries)", n)
	}
}

func TestHTTPSRefusalIsNotRetried(t *testing.T) {
	f := &fakeIngest{fail: func(int) (int, string) { return 403, "the token belongs to agent \"web-2\"" }}
	url, ca := tlsServer(t, f)
	c := newTestClient(t, url, ca, nil)
	_, err := c.Send(context.Background(), testBatch(1))
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != 403 || !he.Permanent() || !strings.Contains(err.Error(), "web-2") {
		t.Fatalf("err = %v", err)
	}
	if n := f.attempts.Load(); n != 1 {
		t.Fatalf("%d attempts, want 1", n)
	}
}

func TestHTTPSWrongAckSeq(t *testing.T) {
	f := &fakeIngest{ackSeq: func(seq uint64) uint64 { return seq + 1 }}
	url, ca := tlsServer(t, f)
	c := newTestClient(t, url, ca, nil)
	if _, err := c.Send(context.Background(), testBatch(4)); err == nil || !strings.Contains(err.Error(), "answered batch 5") {
		t.Fatalf("err = %v", err)
	}
}

func TestHTTPSNotAnAck(t *testing.T) {
	url, ca := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // the portal ignores what it is sent
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html>captive portal</html>")) // a failed write shows as the sender's error
	}))
	c := newTestClient(t, url, ca, nil)
	if _, err := c.Send(context.Background(), testBatch(1)); err == nil || !strings.Contains(err.Error(), "not an Ack") {
		t.Fatalf("err = %v", err)
	}
}

func TestHTTPSVerifiesTheCollector(t *testing.T) {
	f := &fakeIngest{}
	url, _ := tlsServer(t, f)
	// Without the CA the system roots do not trust the test certificate.
	c := newTestClient(t, url, "", nil)
	_, err := c.Send(context.Background(), testBatch(1))
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("err = %v", err)
	}
	if n := f.attempts.Load(); n != 0 {
		t.Fatalf("an unverified collector got %d requests", n)
	}
}

func TestHTTPSPlainLoopback(t *testing.T) {
	f := &fakeIngest{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := newTestClient(t, srv.URL+"/prefix", "", nil)
	if ack, err := c.Send(context.Background(), testBatch(2)); err != nil || ack.Seq != 2 {
		t.Fatalf("ack %v, err %v", ack, err)
	}
}

func TestHTTPSContextCancel(t *testing.T) {
	f := &fakeIngest{fail: func(int) (int, string) { return 503, "down" }}
	url, ca := tlsServer(t, f)
	c := newTestClient(t, url, ca, nil)
	c.client.RetryWaitMin, c.client.RetryWaitMax = time.Minute, time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := c.Send(ctx, testBatch(1)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Send took %v after its context ended", d)
	}
}

func TestParseCollectorURL(t *testing.T) {
	for _, ok := range []string{"https://collector.example.com:8443", "https://c.example.com", "http://127.0.0.1:8080",
		"http://localhost:8080", "http://[::1]:8080", "https://c.example.com/vigil/"} {
		if _, err := ParseCollectorURL(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"http://collector.example.com:8080", "http://10.0.0.1:8080", "ftp://x", "collector:8443",
		"https://", "https://user:pw@c.example.com", "https://c.example.com?x=1", "://"} {
		if _, err := ParseCollectorURL(bad); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func TestHTTPSRefusesOversizeBatch(t *testing.T) {
	c := newTestClient(t, "https://127.0.0.1:1", "", nil)
	b := testBatch(1)
	b.Results[0].Message = strings.Repeat("x", protocol.DefaultMaxFrameBytes)
	if _, err := c.Send(context.Background(), b); !errors.Is(err, protocol.ErrFrameTooLarge) {
		t.Fatalf("err = %v", err)
	}
}
