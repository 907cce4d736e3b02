package notify

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/alarm"
)

var t0 = time.Date(2026, 12, 6, 2, 0, 0, 0, time.UTC)

func tr(agent string, from, to alarm.State, at time.Time, msg string) Transition {
	return Transition{Agent: agent, Check: "disk", From: from, To: to, At: at, Message: msg}
}

func TestTransitionKey(t *testing.T) {
	a := tr("web1", alarm.StateOK, alarm.StateCritical, t0, "95% full")
	k := a.Key("acme", "al1")
	if len(k) != 32 {
		t.Fatalf("key %q: want 32 hex characters", k)
	}
	if k2 := a.Key("acme", "al1"); k2 != k {
		t.Fatalf("key not stable: %q then %q", k, k2)
	}
	// The message is not part of the key: a re-evaluation that words it
	// differently is the same transition.
	b := a
	b.Message = "other"
	if b.Key("acme", "al1") != k {
		t.Fatal("message changed the key")
	}
	for name, other := range map[string]string{
		"tenant": tr("web1", alarm.StateOK, alarm.StateCritical, t0, "").Key("acme2", "al1"),
		"alarm":  a.Key("acme", "al2"),
		"agent":  tr("web2", alarm.StateOK, alarm.StateCritical, t0, "").Key("acme", "al1"),
		"from":   tr("web1", alarm.StateWarning, alarm.StateCritical, t0, "").Key("acme", "al1"),
		"to":     tr("web1", alarm.StateOK, alarm.StateWarning, t0, "").Key("acme", "al1"),
		"at":     tr("web1", alarm.StateOK, alarm.StateCritical, t0.Add(time.Nanosecond), "").Key("acme", "al1"),
		// Field boundaries: "ab"+"c" is not "a"+"bc".
		"boundary": (Transition{Agent: "web", Check: "1disk"}).Key("acme", "al1"),
	} {
		if other == k {
			t.Errorf("%s: different transition has the same key", name)
		}
	}
	if (Transition{Agent: "ab", Check: "c"}).Key("t", "a") == (Transition{Agent: "a", Check: "bc"}).Key("t", "a") {
		t.Error("field boundary not in the key")
	}
}

func TestSummary(t *testing.T) {
	one := NewNotification("acme", "al1", "disk full", tr("web1", alarm.StateOK, alarm.StateCritical, t0, "95% full"))
	if got, want := one.Summary(), "disk full: CRITICAL on web1 (disk): 95% full"; got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
	var g Grouper
	for i := range 12 {
		g.Add("acme", "al1", "disk full", tr("web"+string(rune('a'+i)), alarm.StateOK, alarm.StateCritical, t0, ""), t0)
	}
	ns := g.FlushAll()
	if len(ns) != 1 {
		t.Fatalf("got %d notifications, want 1", len(ns))
	}
	want := "disk full: 12 agents CRITICAL (weba, webb, webc, webd, webe, webf, webg, webh, webi, webj and 2 more)"
	if got := ns[0].Summary(); got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
}

func TestGrouper(t *testing.T) {
	g := Grouper{Window: 30 * time.Second}
	crit := func(agent string) Transition { return tr(agent, alarm.StateOK, alarm.StateCritical, t0, "") }
	g.Add("acme", "al1", "disk", crit("a"), t0)
	g.Add("acme", "al1", "disk", crit("b"), t0.Add(10*time.Second))
	g.Add("acme", "al1", "disk", crit("b"), t0.Add(11*time.Second)) // repeat: counted once
	g.Add("acme", "al1", "disk", tr("c", alarm.StateCritical, alarm.StateOK, t0, ""), t0.Add(12*time.Second))
	g.Add("acme", "al2", "load", crit("a"), t0.Add(20*time.Second))
	if got := g.Flush(t0.Add(29 * time.Second)); len(got) != 0 {
		t.Fatalf("flushed %d groups before the window passed", len(got))
	}
	got := g.Flush(t0.Add(30 * time.Second))
	if len(got) != 1 || got[0].AlarmID != "al1" || got[0].State != alarm.StateCritical || got[0].Count != 2 {
		t.Fatalf("first flush = %+v, want al1's CRITICAL group of 2", got)
	}
	if a := got[0].Agents(); len(a) != 2 || a[0] != "a" || a[1] != "b" {
		t.Errorf("agents = %v", a)
	}
	// The group key does not depend on arrival order.
	var g2 Grouper
	g2.Add("acme", "al1", "disk", crit("b"), t0)
	g2.Add("acme", "al1", "disk", crit("a"), t0)
	if k := g2.FlushAll()[0].Key; k != got[0].Key {
		t.Errorf("group key depends on order: %s vs %s", k, got[0].Key)
	}
	rest := g.Flush(t0.Add(time.Hour))
	if len(rest) != 2 || rest[0].AlarmID != "al1" || rest[0].State != alarm.StateOK || rest[1].AlarmID != "al2" {
		t.Fatalf("second flush = %+v", rest)
	}
	// A group of one carries the transition's own key.
	if rest[1].Key != crit("a").Key("acme", "al2") || rest[1].Count != 1 {
		t.Errorf("group of one: key %s count %d", rest[1].Key, rest[1].Count)
	}
	if g.Pending() != 0 {
		t.Errorf("%d groups left", g.Pending())
	}
	// Past MaxListed, transitions are counted, not listed.
	for i := range MaxListed + 5 {
		g.Add("acme", "al3", "x", tr(strings.Repeat("x", i+1), alarm.StateOK, alarm.StateWarning, t0, ""), t0)
	}
	big := g.FlushAll()[0]
	if big.Count != MaxListed+5 || len(big.Transitions) != MaxListed {
		t.Errorf("big group: count %d listed %d", big.Count, len(big.Transitions))
	}
}

func TestNotificationJSON(t *testing.T) {
	n := NewNotification("acme", "al1", "disk full", tr("web1", alarm.StateOK, alarm.StateCritical, t0, "95% full"))
	b, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"tenant":"acme","alarm_id":"al1","alarm_name":"disk full","state":"CRITICAL","resolved":false,` +
		`"summary":"disk full: CRITICAL on web1 (disk): 95% full","count":1,"idempotency_key":"` + n.Key + `",` +
		`"transitions":[{"agent":"web1","check":"disk","from":"OK","to":"CRITICAL","at":"2026-12-06T02:00:00Z",` +
		`"message":"95% full","idempotency_key":"` + n.Key + `"}]}`
	if string(b) != want {
		t.Errorf("JSON\n got %s\nwant %s", b, want)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 6, 2, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"120", 120 * time.Second, true},
		{" 0 ", 0, true},
		{"99999999999999999999999", maxRetryAfter, true},
		{"86401", maxRetryAfter, true},
		{"Sun, 06 Dec 2026 02:00:30 GMT", 30 * time.Second, true},
		{"Sun, 06 Dec 2026 01:00:00 GMT", 0, true},
		{"Sunday, 06-Dec-26 02:01:00 GMT", time.Minute, true},
		{"", 0, false},
		{"-5", 0, false},
		{"1.5", 0, false},
		{"12abc", 0, false},
		{"soon", 0, false},
	} {
		got, ok := ParseRetryAfter(c.in, now)
		if got != c.want || ok != c.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestParseReceiverErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"type":"webhook"}`, "webhook receiver: url: is required"},
		{`{"type":"webhook","url":"ftp://x/y"}`, `url: scheme "ftp" is not http or https`},
		{`{"type":"webhook","url":"http:///y"}`, "url: has no host"},
		{`{"type":"webhook","url":"http://x","timeout":"5m"}`, "timeout: 5m0s is outside (0, 2m0s]"},
		{`{"type":"webhook","url":"http://x","timeout":"soon"}`, "invalid duration"},
		{`{"type":"webhook","url":"http://x","headers":{"X A":"1"}}`, `headers: "X A" is not a valid header name`},
		{`{"type":"webhook","url":"http://x","headers":{"X-A":"1\r\nB: 2"}}`, `headers: value of "X-A" contains CR, LF or NUL`},
		{`{"type":"webhook","url":"http://x","headers":{"host":"y"}}`, `headers: "host" is set by the HTTP client`},
		{`{"type":"webhook","url":"http://x","template":"{{.Nope"}`, "template: template: webhook:1: unclosed action"},
		{`{"type":"webhook","url":"http://x","template":"{{range 1000000000}}{{end}}"}`, "template: range over 1000000000: only fields"},
		{`{"type":"webhook","url":"http://x","template":"{{$n := 9}}{{range $n}}{{end}}"}`, "template: range over $n: only fields"},
		{`{"type":"webhook","url":"http://x","template":"{{range .Transitions}}{{range $.Transitions}}{{range $.Agents}}{{end}}{{end}}{{end}}"}`, "ranges nested more than 2 deep"},
		{`{"type":"webhook","url":"http://x","template":"{{define \"r\"}}{{template \"r\" .}}{{end}}x"}`, "{{define}} and {{block}} are not allowed"},
		{`{"type":"webhook","url":"http://x","template":"{{if .Count}}{{template \"x\"}}{{end}}"}`, `{{template "x"}} is not allowed`},
		{`{"type":"webhook","url":"http://x","max_body_bytes":2000000}`, "max_body_bytes: 2000000 is outside [1, 1048576]"},
		{`{"type":"webhook","url":"http://x","extra":1}`, `unknown field "extra"`},
		{`{"type":"slack","url":"hooks.slack.com/x"}`, `slack receiver: url: scheme "" is not http or https`},
		{`{"type":"pagerduty"}`, "pagerduty receiver: routing_key: is required"},
		{`{"type":"pagerduty","routing_key":"k","url":"mailto:x"}`, `url: scheme "mailto"`},
		{`{"type":"alertmanager","url":"http://am:9093","labels":{"severity":"x"}}`, `labels: "severity" is set by Vigil`},
		{`{"type":"alertmanager","url":"http://am:9093","labels":{"1team":"x"}}`, `labels: "1team" is not a label name`},
		{`{"type":"email","addr":"smtp.example.com","from":"a@b.c","to":["d@e.f"]}`, `email receiver: addr: "smtp.example.com" is not host:port`},
		{`{"type":"email","addr":"smtp:587","from":"nobody","to":["d@e.f"]}`, "email receiver: from: "},
		{`{"type":"email","addr":"smtp:587","from":"a@b.c","to":[]}`, "to: has 0 addresses, want 1 to 100"},
		{`{"type":"email","addr":"smtp:587","from":"a@b.c","to":["x"]}`, "to[0]: "},
		{`{"type":"email","addr":"smtp:587","from":"a@b.c","to":["d@e.f"],"tls":"maybe"}`, `tls: "maybe" is not starttls, require-starttls or tls`},
		{`{"type":"email","addr":"smtp:587","from":"a@b.c","to":["d@e.f"],"password":"p"}`, "username: is required with a password"},
		{`{"type":"email","addr":"smtp:587","from":"a@b.c","to":["d@e.f"],"ca_file":"/nonexistent"}`, "ca_file: "},
		{`{"type":"sms"}`, `type "sms" is not one of`},
		{`{}`, "type is required"},
		{`[`, "receiver config: "},
		{`{"type":"slack","url":"http://x"} {}`, "after top-level value"},
	} {
		_, err := ParseReceiver([]byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseReceiver(%s) = %v, want an error containing %q", c.in, err, c.want)
		}
	}
	for _, in := range []string{
		`{"type":"webhook","url":"https://hooks.example/x","headers":{"Authorization":"Bearer t"},"template":"{{.Summary}}","timeout":"3s"}`,
		`{"type":"slack","url":"https://hooks.slack.example/T0/B0/x"}`,
		`{"type":"pagerduty","routing_key":"0123456789abcdef0123456789abcdef"}`,
		`{"type":"alertmanager","url":"http://am:9093/","labels":{"team":"ops"}}`,
		`{"type":"email","addr":"smtp.example.com:587","from":"Vigil <vigil@example.com>","to":["ops@example.com"],"username":"u","password":"p"}`,
	} {
		r, err := ParseReceiver([]byte(in))
		if err != nil {
			t.Errorf("ParseReceiver(%s): %v", in, err)
			continue
		}
		var head struct{ Type string }
		_ = json.Unmarshal([]byte(in), &head)
		if r.Type() != head.Type {
			t.Errorf("type %q, want %q", r.Type(), head.Type)
		}
	}
}
