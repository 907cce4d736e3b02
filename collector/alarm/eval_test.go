package alarm

import (
	"math"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)

func res(status CheckStatus, msg string, at time.Time, kv ...any) *Result {
	r := &Result{Time: at, Status: status, Message: msg}
	for i := 0; i < len(kv); i += 2 {
		var val Value
		switch v := kv[i+1].(type) {
		case string:
			val = Str(v)
		case float64:
			val = Num(v)
		case int:
			val = Num(float64(v))
		}
		r.Metrics = append(r.Metrics, Metric{Name: kv[i].(string), Value: val})
	}
	return r
}

const disk = `if (metric['used_percent'] > 90) { return new AlarmStatus(CRITICAL, 'disk #{used_percent}% full on #{mount}'); }
if (metric['used_percent'] > 80) { return new AlarmStatus(WARNING); }
return new AlarmStatus(OK);`

func TestEvaluate(t *testing.T) {
	prev := res(StatusOK, "", t0.Add(-30*time.Second), "rx", 1000, "fp", "aa", "s", "x")
	tests := []struct {
		name     string
		criteria string
		r        *Result
		prev     *Result
		want     State
		wantMsg  string
	}{
		{"critical with interpolation", disk, res(StatusOK, "ran", t0, "used_percent", 95.5, "mount", "/var"), nil, StateCritical, "disk 95.5% full on /var"},
		{"warning keeps the check message", disk, res(StatusOK, "ran", t0, "used_percent", 85), nil, StateWarning, "ran"},
		{"ok", disk, res(StatusOK, "ran", t0, "used_percent", 10), nil, StateOK, "ran"},
		{"missing metric stays in message", disk, res(StatusOK, "", t0, "used_percent", 91), nil, StateCritical, "disk 91% full on #{mount}"},
		{"missing metric: comparison false, default return", disk, res(StatusOK, "", t0), nil, StateOK, ""},
		{"missing metric makes != false too", `if (metric['banner'] != '') { return OK } return new AlarmStatus(CRITICAL, 'Match not found.')`,
			res(StatusOK, "", t0), nil, StateCritical, "Match not found."},
		{"unknown status is its own state", disk, res(StatusUnknown, "timeout after 10s", t0, "used_percent", 95), nil, StateUnknown, "timeout after 10s"},
		{"empty criteria follow the check: ok", "", res(StatusOK, "fine", t0), nil, StateOK, "fine"},
		{"empty criteria follow the check: warn", "", res(StatusWarn, "slow", t0), nil, StateWarning, "slow"},
		{"empty criteria follow the check: crit", "", res(StatusCrit, "down", t0), nil, StateCritical, "down"},
		{"no return reached: the check decides", `if (metric['a'] > 1) { return OK }`, res(StatusCrit, "plugin says crit", t0, "a", 0), nil, StateCritical, "plugin says crit"},
		{"string equality", `if (metric['code'] == "404") { return new AlarmStatus(CRITICAL, "Page not found!"); }`, res(StatusOK, "", t0, "code", "404"), nil, StateCritical, "Page not found!"},
		{"numeric metric against string literal", `if (metric['code'] == "404") { return CRITICAL }`, res(StatusOK, "", t0, "code", 404), nil, StateCritical, ""},
		{"string metric against number", `if (metric['code'] >= 500) { return CRITICAL }`, res(StatusOK, "", t0, "code", " 503"), nil, StateCritical, ""},
		{"unparsable string against number is false", `if (metric['code'] < 500) { return CRITICAL } return OK`, res(StatusOK, "", t0, "code", "n/a"), nil, StateOK, ""},
		{"metric against metric as strings", `if (metric['a'] == metric['b']) { return CRITICAL } return OK`, res(StatusOK, "", t0, "a", "x", "b", "x"), nil, StateCritical, ""},
		{"metric against metric as numbers", `if (metric['a'] != metric['b']) { return CRITICAL } return OK`, res(StatusOK, "", t0, "a", 1.0, "b", 1), nil, StateOK, ""},
		{"regex searches", `if (metric['banner'] regex "OpenSSH.*") { return OK } return CRITICAL`, res(StatusOK, "", t0, "banner", "SSH-2.0-OpenSSH_9.6"), nil, StateOK, ""},
		{"regex anchored", `if (metric['banner'] regex "^OpenSSH") { return OK } return CRITICAL`, res(StatusOK, "", t0, "banner", "SSH-2.0-OpenSSH_9.6"), nil, StateCritical, ""},
		{"regex with a kept backslash", `if (metric['v'] regex '^\d+\.\d+$') { return OK } return CRITICAL`, res(StatusOK, "", t0, "v", "1.25"), nil, StateOK, ""},
		{"nregex", `if (metric['body'] nregex "ok") { return CRITICAL } return OK`, res(StatusOK, "", t0, "body", "all ok"), nil, StateOK, ""},
		{"nregex missing metric is false", `if (metric['body'] nregex "ok") { return CRITICAL } return OK`, res(StatusOK, "", t0), nil, StateOK, ""},
		{"regex on a number", `if (metric['code'] regex "^5") { return CRITICAL } return OK`, res(StatusOK, "", t0, "code", 502), nil, StateCritical, ""},
		{"and", `if (metric['a'] > 1 && metric['b'] > 1) { return CRITICAL } return OK`, res(StatusOK, "", t0, "a", 2, "b", 0), nil, StateOK, ""},
		{"or with a missing side", `if (metric['gone'] > 1 || metric['b'] > 1) { return CRITICAL } return OK`, res(StatusOK, "", t0, "b", 2), nil, StateCritical, ""},
		{"else if", `if (metric['a'] > 90) { return CRITICAL } else if (metric['a'] > 80) { return WARNING } else { return OK, 'a is #{a}' }`,
			res(StatusOK, "", t0, "a", 42), nil, StateOK, "a is 42"},
		{"nested if falls through", `if (metric['a'] > 1) { if (metric['b'] > 1) { return CRITICAL } } return WARNING`,
			res(StatusOK, "", t0, "a", 2, "b", 0), nil, StateWarning, ""},
		{"previous string changed", `if (previous(metric['fp']) != metric['fp']) { return new AlarmStatus(CRITICAL, 'Fingerprint has changed to: #{fp}'); } return OK`,
			res(StatusOK, "", t0, "fp", "bb"), prev, StateCritical, "Fingerprint has changed to: bb"},
		{"previous without a previous result is false", `if (previous(metric['fp']) != metric['fp']) { return CRITICAL } return OK`,
			res(StatusOK, "", t0, "fp", "bb"), nil, StateOK, ""},
		{"rate", `if (rate(metric['rx']) > 100) { return CRITICAL } if (rate(metric['rx']) > 10) { return WARNING } return OK`,
			res(StatusOK, "", t0, "rx", 1000+30*50), prev, StateWarning, ""},
		{"rate of a counter reset is negative", `if (rate(metric['rx']) < 0) { return WARNING } return OK`,
			res(StatusOK, "", t0, "rx", 10), prev, StateWarning, ""},
		{"rate of a string is missing", `if (rate(metric['s']) < 1) { return WARNING } return OK`,
			res(StatusOK, "", t0, "s", "y"), prev, StateOK, ""},
		{"rate needs time to pass", `if (rate(metric['rx']) > -1) { return WARNING } return OK`,
			res(StatusOK, "", prev.Time, "rx", 2000), prev, StateOK, ""},
		{"percentage", `if (percentage(metric['used'], metric['total']) > 90) { return CRITICAL } return OK`,
			res(StatusOK, "", t0, "used", 95, "total", 100), nil, StateCritical, ""},
		{"percentage of zero is missing", `if (percentage(metric['used'], metric['total']) >= 0) { return CRITICAL } return OK`,
			res(StatusOK, "", t0, "used", 0, "total", 0), nil, StateOK, ""},
		{"NaN is missing", `if (metric['a'] != 1) { return CRITICAL } return OK`, res(StatusOK, "", t0, "a", math.NaN()), nil, StateOK, ""},
		{"interpolation with spaces and an unterminated ref", `return WARNING, 'a=#{ a } b=#{b'`, res(StatusOK, "", t0, "a", 1.25), nil, StateWarning, "a=1.25 b=#{b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(tc.criteria)
			if err != nil {
				t.Fatal(err)
			}
			got := c.Evaluate(tc.r, tc.prev)
			if got.State != tc.want || got.Message != tc.wantMsg {
				t.Fatalf("got %v %q, want %v %q", got.State, got.Message, tc.want, tc.wantMsg)
			}
		})
	}
}

// Criteria are shared by every ingest goroutine; -race checks they can be.
func TestEvaluateConcurrent(t *testing.T) {
	c, err := Parse(disk + "\nif (metric['s'] regex 'a+b') { return WARNING }")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan Outcome)
	for i := range 4 {
		go func() {
			var o Outcome
			for range 200 {
				o = c.Evaluate(res(StatusOK, "", t0, "used_percent", 91+i, "mount", "/", "s", "aab"), nil)
			}
			done <- o
		}()
	}
	for range 4 {
		if o := <-done; o.State != StateCritical {
			t.Errorf("got %+v", o)
		}
	}
}
