package promapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// serve writes every answer in Prometheus' envelope and logs a 5xx once;
// an error that is not an apiErr is the collector's fault: 500 internal.
func TestServeAnswers(t *testing.T) {
	for _, tt := range []struct {
		name    string
		h       handler
		code    int
		body    string
		logged  bool
		retryAf string
	}{
		{"data", func(*http.Request, string) (any, error) { return []string{"a"}, nil }, 200, `{"data":["a"],"status":"success"}`, false, ""},
		{"raw", func(*http.Request, string) (any, error) { return rawAnswer(`{"status":"success"}`), nil }, 200, `{"status":"success"}`, false, ""},
		{"bad data", func(*http.Request, string) (any, error) { return nil, badData("invalid parameter %q", "x") }, 400,
			`{"error":"invalid parameter \"x\"","errorType":"bad_data","status":"error"}`, false, ""},
		{"fault", func(*http.Request, string) (any, error) { return nil, errors.New("boom") }, 500,
			`{"error":"boom","errorType":"internal","status":"error"}`, true, ""},
		{"refusal logged where it arose", func(*http.Request, string) (any, error) {
			return nil, &apiErr{typ: "unavailable", status: 503, err: errors.New("busy"), retryAfter: "1", logged: true}
		}, 503, `{"error":"busy","errorType":"unavailable","status":"error"}`, false, "1"},
		{"store down", func(*http.Request, string) (any, error) {
			return nil, &apiErr{typ: "internal", status: 503, err: errors.New("store: closed")}
		}, 503, `{"error":"store: closed","errorType":"internal","status":"error"}`, true, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			a := &API{Log: slog.New(slog.NewTextHandler(&logs, nil))}
			rec := httptest.NewRecorder()
			a.serve(tt.h)(rec, httptest.NewRequest("GET", "/prometheus/api/v1/x?a=1", nil), "acme")
			var got, want any
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("response %q: %v", rec.Body, err)
			}
			if err := json.Unmarshal([]byte(tt.body), &want); err != nil {
				t.Fatalf("want %q: %v", tt.body, err)
			}
			gb, _ := json.Marshal(got)
			wb, _ := json.Marshal(want)
			if rec.Code != tt.code || string(gb) != string(wb) {
				t.Fatalf("got %d %s, want %d %s", rec.Code, rec.Body, tt.code, tt.body)
			}
			if n := strings.Count(logs.String(), "level=ERROR"); n != map[bool]int{true: 1}[tt.logged] {
				t.Errorf("%d error lines logged, want logged=%v: %s", n, tt.logged, logs.String())
			}
			if ra := rec.Header().Get("Retry-After"); ra != tt.retryAf {
				t.Errorf("Retry-After %q, want %q", ra, tt.retryAf)
			}
		})
	}
}
