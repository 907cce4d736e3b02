package notify

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vigilmon/vigil/collector/alarm"
)

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"120", "0", "", "Sun, 06 Dec 2026 02:00:30 GMT", "Sunday, 06-Dec-26 02:01:00 GMT",
		"Sun Dec  6 02:00:30 2026", "99999999999999999999", "-1", "1e3", " 5 "} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 6, 2, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := ParseRetryAfter(s, now)
		if d < 0 || d > maxRetryAfter {
			t.Fatalf("ParseRetryAfter(%q) = %v, outside [0, %v]", s, d, maxRetryAfter)
		}
		if !ok && d != 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v with ok false", s, d)
		}
	})
}

func FuzzParseReceiver(f *testing.F) {
	for _, s := range []string{
		`{"type":"webhook","url":"https://hooks.example/x","headers":{"Authorization":"Bearer t"},"template":"{{.Summary}}","timeout":"3s"}`,
		`{"type":"slack","url":"https://hooks.slack.example/T0/B0/x"}`,
		`{"type":"pagerduty","routing_key":"0123456789abcdef0123456789abcdef","url":"http://127.0.0.1:1/v2/enqueue"}`,
		`{"type":"alertmanager","url":"http://am:9093/","labels":{"team":"ops"}}`,
		`{"type":"email","addr":"smtp.example.com:587","from":"Vigil <vigil@example.com>","to":["ops@example.com"],"username":"u","password":"p","tls":"tls"}`,
		`{"type":"webhook","url":"http://x","max_body_bytes":-1}`,
		`{}`, `[]`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseReceiver(data)
		if err != nil {
			if r != nil {
				t.Fatal("receiver and error both returned")
			}
			if !strings.HasPrefix(err.Error(), "notify: ") {
				t.Fatalf("error without context: %v", err)
			}
			return
		}
		var head struct{ Type string }
		if json.Unmarshal(data, &head) != nil || head.Type != r.Type() {
			t.Fatalf("accepted %q as %s", data, r.Type())
		}
	})
}

// FuzzWebhookTemplate renders arbitrary templates over a notification with
// arbitrary text: the body stays within the limit, and nothing panics.
func FuzzWebhookTemplate(f *testing.F) {
	f.Add(`{{.Summary}}`, "web1", "95% full")
	f.Add(`{"text": {{json .Summary}}, "n": {{.Count}}}`, "a\"b", "\x00\xff")
	f.Add(`{{range .Transitions}}{{.Agent}} {{.From}}->{{.To}} {{.At}}{{end}}{{range .Agents}}{{.}}{{end}}`, "x", "")
	f.Add(`{{define "r"}}{{template "r" .}}{{end}}{{template "r" .}}`, "x", "")
	f.Add(`{{range $i, $t := .Transitions}}{{if $t.Message}}{{range $.Agents}}{{.}}{{end}}{{end}}{{else}}none{{end}}`, "x", "m")
	f.Add(`{{with .Transitions}}{{range .}}{{.Agent}}{{end}}{{end}}`, "x", "m")
	f.Add(`{{range $i, $t := .Transitions}}{{range $.Transitions}}{{$.Summary}}{{end}}{{end}}`, "x", "y")
	f.Fuzz(func(t *testing.T, tmpl, agent, msg string) {
		const max = 4096
		w, err := NewWebhook(WebhookConfig{URL: "http://127.0.0.1:1/", Template: tmpl, MaxBodyBytes: max})
		if err != nil {
			return
		}
		var g Grouper
		g.Add("acme", "al1", "disk", Transition{Agent: agent, Check: "c", From: alarm.StateOK, To: alarm.StateCritical, Message: msg}, time.Time{})
		g.Add("acme", "al1", "disk", Transition{Agent: agent + "2", From: alarm.StateWarning, To: alarm.StateCritical}, time.Time{})
		body, err := w.Render(g.FlushAll()[0])
		if err == nil && len(body) > max {
			t.Fatalf("body %d bytes, over %d", len(body), max)
		}
		if err == nil && utf8.ValidString(tmpl) && utf8.ValidString(agent) && utf8.ValidString(msg) && !utf8.Valid(body) {
			// text/template only copies and prints; valid input stays
			// valid (a cut at the limit is an error, not a torn rune).
			t.Fatalf("invalid UTF-8 from valid input: %q", body)
		}
	})
}
