package notify

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/alarm"
)

// request is what the test server saw.
type request struct {
	method, path string
	header       http.Header
	body         string
}

// recorder is a local HTTP receiver that records requests and answers
// with the scripted responses in turn (then 200).
type recorder struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []request
	// script: status, Retry-After, body per request.
	script []response
}

type response struct {
	status     int
	retryAfter string
	body       string
}

func newRecorder(t *testing.T, script ...response) *recorder {
	r := &recorder{script: script}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, request{req.Method, req.URL.RequestURI(), req.Header.Clone(), string(b)})
		var resp response
		if len(r.script) > 0 {
			resp, r.script = r.script[0], r.script[1:]
		}
		r.mu.Unlock()
		if resp.retryAfter != "" {
			w.Header().Set("Retry-After", resp.retryAfter)
		}
		if resp.status == 0 {
			resp.status = http.StatusOK
		}
		w.WriteHeader(resp.status)
		_, _ = io.WriteString(w, resp.body)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorder) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.reqs...)
}

func (r *recorder) only(t *testing.T) request {
	t.Helper()
	reqs := r.requests()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1", len(reqs))
	}
	return reqs[0]
}

func critical() Notification {
	return NewNotification("acme", "al1", "disk full", tr("web1", alarm.StateOK, alarm.StateCritical, t0, "95% full"))
}

func TestWebhookDefaultBody(t *testing.T) {
	rec := newRecorder(t)
	w, err := NewWebhook(WebhookConfig{URL: rec.srv.URL + "/hook?x=1", Headers: map[string]string{"Authorization": "Bearer s3cret"}})
	if err != nil {
		t.Fatal(err)
	}
	n := critical()
	if err := w.Send(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	req := rec.only(t)
	want := `{"tenant":"acme","alarm_id":"al1","alarm_name":"disk full","state":"CRITICAL","resolved":false,` +
		`"summary":"disk full: CRITICAL on web1 (disk): 95% full","count":1,"idempotency_key":"` + n.Key + `",` +
		`"transitions":[{"agent":"web1","check":"disk","from":"OK","to":"CRITICAL","at":"2026-12-06T02:00:00Z",` +
		`"message":"95% full","idempotency_key":"` + n.Key + `"}]}`
	if req.method != "POST" || req.path != "/hook?x=1" || req.body != want {
		t.Errorf("got %s %s %s\nwant body %s", req.method, req.path, req.body, want)
	}
	for k, v := range map[string]string{"Content-Type": "application/json", "Authorization": "Bearer s3cret", "Idempotency-Key": n.Key} {
		if got := req.header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
}

func TestWebhookTemplate(t *testing.T) {
	rec := newRecorder(t)
	w, err := NewWebhook(WebhookConfig{URL: rec.srv.URL,
		Headers:  map[string]string{"Content-Type": "text/plain"},
		Template: `{{.State}} {{.AlarmName}} key={{.Key}}{{range .Transitions}} {{.Agent}}:{{json .Message}}{{end}} resolved={{.Resolved}}`})
	if err != nil {
		t.Fatal(err)
	}
	n := critical()
	if err := w.Send(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	req := rec.only(t)
	if want := `CRITICAL disk full key=` + n.Key + ` web1:"95% full" resolved=false`; req.body != want {
		t.Errorf("body %q, want %q", req.body, want)
	}
	if ct := req.header.Get("Content-Type"); ct != "text/plain" {
		t.Errorf("Content-Type %q", ct)
	}

	// Output past max_body_bytes fails, permanently, without a request.
	big, err := NewWebhook(WebhookConfig{URL: rec.srv.URL, MaxBodyBytes: 100,
		Template: `{{.Summary}}{{.Summary}}{{.Summary}}`})
	if err != nil {
		t.Fatal(err)
	}
	err = big.Send(context.Background(), n)
	if !errors.Is(err, errBodyTooLarge) || IsRetryable(err) {
		t.Errorf("oversized body: %v (retryable %v)", err, IsRetryable(err))
	}
	// A missing key is an error, not "<no value>".
	bad, err := NewWebhook(WebhookConfig{URL: rec.srv.URL, Template: `{{.Nope}}`})
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Send(context.Background(), n); err == nil || IsRetryable(err) {
		t.Errorf("bad field: %v", err)
	}
	if len(rec.requests()) != 1 {
		t.Errorf("failed renders sent requests")
	}
}

func TestSlack(t *testing.T) {
	rec := newRecorder(t)
	s, err := NewSlack(SlackConfig{URL: rec.srv.URL + "/services/T0/B0/secret"})
	if err != nil {
		t.Fatal(err)
	}
	var g Grouper
	g.Add("acme", "al1", "disk full", tr("web1", alarm.StateOK, alarm.StateCritical, t0, "95% full"), t0)
	g.Add("acme", "al1", "disk full", tr("web2", alarm.StateWarning, alarm.StateCritical, t0, ""), t0)
	n := g.FlushAll()[0]
	if err := s.Send(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	want := `{"text":"disk full: 2 agents CRITICAL (web1, web2)\n• web1 (disk): OK → CRITICAL: 95% full\n• web2 (disk): WARNING → CRITICAL"}`
	if got := rec.only(t).body; got != want {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
}

func TestPagerDuty(t *testing.T) {
	rec := newRecorder(t, response{status: 202, body: `{"status":"success"}`}, response{status: 202})
	p, err := NewPagerDuty(PagerDutyConfig{RoutingKey: "0123456789abcdef0123456789abcdef", URL: rec.srv.URL + "/v2/enqueue"})
	if err != nil {
		t.Fatal(err)
	}
	n := critical()
	if err := p.Send(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	ok := NewNotification("acme", "al1", "disk full", tr("web1", alarm.StateCritical, alarm.StateOK, t0.Add(time.Minute), ""))
	if err := p.Send(context.Background(), ok); err != nil {
		t.Fatal(err)
	}
	reqs := rec.requests()
	if len(reqs) != 2 || reqs[0].path != "/v2/enqueue" {
		t.Fatalf("requests %+v", reqs)
	}
	dk := PagerDutyDedupKey(n)
	if PagerDutyDedupKey(ok) != dk {
		t.Fatal("resolve and trigger have different dedup keys")
	}
	trigger := `{"routing_key":"0123456789abcdef0123456789abcdef","event_action":"trigger","dedup_key":"` + dk + `",` +
		`"payload":{"summary":"disk full: CRITICAL on web1 (disk): 95% full","source":"web1","severity":"critical",` +
		`"timestamp":"2026-12-06T02:00:00Z","group":"acme","class":"disk full","custom_details":{"alarm_id":"al1",` +
		`"count":1,"idempotency_key":"` + n.Key + `","state":"CRITICAL","tenant":"acme","transitions":[{"agent":"web1",` +
		`"check":"disk","from":"OK","message":"95% full","to":"CRITICAL"}]}}}`
	if reqs[0].body != trigger {
		t.Errorf("trigger\n got %s\nwant %s", reqs[0].body, trigger)
	}
	resolve := `{"routing_key":"0123456789abcdef0123456789abcdef","event_action":"resolve","dedup_key":"` + dk + `"}`
	if reqs[1].body != resolve {
		t.Errorf("resolve\n got %s\nwant %s", reqs[1].body, resolve)
	}
}

func TestHTTPErrorClassification(t *testing.T) {
	long := strings.Repeat("x", 4000)
	for _, c := range []struct {
		name       string
		resp       response
		retryable  bool
		retryAfter time.Duration
	}{
		{"500", response{status: 500, body: long}, true, 0},
		{"503 retry-after", response{status: 503, retryAfter: "7"}, true, 7 * time.Second},
		{"429 retry-after", response{status: 429, retryAfter: "120"}, true, 2 * time.Minute},
		{"408", response{status: 408}, true, 0},
		{"400", response{status: 400, body: `{"status":"invalid event"}`}, false, 0},
		{"404", response{status: 404}, false, 0},
		{"401 ignores retry-after", response{status: 401, retryAfter: "5"}, false, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := newRecorder(t, c.resp)
			s, _ := NewSlack(SlackConfig{URL: rec.srv.URL + "/secret-path"})
			err := s.Send(context.Background(), critical())
			var se *SendError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want *SendError", err)
			}
			if se.Status != c.resp.status || se.Retryable != c.retryable || se.RetryAfter != c.retryAfter || IsRetryable(err) != c.retryable {
				t.Errorf("got status %d retryable %v after %v", se.Status, se.Retryable, se.RetryAfter)
			}
			if len(se.Body) > maxErrorBody || !strings.HasPrefix(c.resp.body, se.Body) {
				t.Errorf("body %d bytes: %.40q", len(se.Body), se.Body)
			}
		})
	}
	// A network error is retryable and does not show the secret path.
	rec := newRecorder(t)
	rec.srv.Close()
	s, _ := NewSlack(SlackConfig{URL: rec.srv.URL + "/services/T0/B0/secret"})
	err := s.Send(context.Background(), critical())
	if !IsRetryable(err) || strings.Contains(err.Error(), "secret") {
		t.Errorf("closed server: %v (retryable %v)", err, IsRetryable(err))
	}
	// A cancelled context is not retried.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Send(ctx, critical()); err == nil || IsRetryable(err) {
		t.Errorf("cancelled: %v", err)
	}
}
