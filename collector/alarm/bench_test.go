package alarm

import (
	"strings"
	"testing"
	"time"
)

// The budget: evaluation at ingest adds at most 10 % CPU per point
// at 10,000 agents × 10 checks every 30 s, i.e. 3,333 results a second.
func benchEvaluate(b *testing.B, criteria string, r, prev *Result, want State) {
	c, err := Parse(criteria)
	if err != nil {
		b.Fatal(err)
	}
	if got := c.Evaluate(r, prev).State; got != want {
		b.Fatalf("state %v, want %v", got, want)
	}
	b.ReportAllocs()
	for b.Loop() {
		c.Evaluate(r, prev)
	}
}

func BenchmarkEvaluateDiskOK(b *testing.B) {
	benchEvaluate(b, disk, res(StatusOK, "", t0, "used_percent", 42.0, "mount", "/", "free", 1e9, "total", 2e9), nil, StateOK)
}

func BenchmarkEvaluateDiskCriticalMessage(b *testing.B) {
	benchEvaluate(b, disk, res(StatusOK, "", t0, "used_percent", 95.5, "mount", "/", "free", 1e9, "total", 2e9), nil, StateCritical)
}

func BenchmarkEvaluateTenConditionals(b *testing.B) {
	src := `:set consecutiveCount=3
if (metric['code'] regex '^5') { return CRITICAL }
if (metric['code'] == '404') { return CRITICAL }
if (rate(metric['rx']) > 5242880) { return CRITICAL }
if (percentage(metric['used'], metric['total']) > 95) { return CRITICAL }
if (previous(metric['fp']) != metric['fp']) { return WARNING }
if (metric['duration'] > 2000 && metric['body'] nregex 'ok') { return WARNING }
if (metric['a'] > 1 || metric['b'] > 1) { return WARNING }
if (metric['c'] > 1) { return WARNING }
if (metric['d'] > 1) { return WARNING }
if (metric['e'] > 1) { return WARNING }
return new AlarmStatus(OK, 'all fine');`
	prev := res(StatusOK, "", t0.Add(-30*time.Second), "rx", 1e6, "fp", "abc")
	r := res(StatusOK, "", t0, "code", "200", "rx", 2e6, "used", 10, "total", 100, "fp", "abc", "duration", 120, "body", "ok",
		"a", 0, "b", 0, "c", 0, "d", 0, "e", 0)
	benchEvaluate(b, src, r, prev, StateOK)
}

func BenchmarkObserve(b *testing.B) {
	s := Settings{Period: 30 * time.Second, Trigger: 3, Recovery: 2}
	var m Machine
	at := t0
	b.ReportAllocs()
	for b.Loop() {
		at = at.Add(30 * time.Second)
		m.Observe(s, at, Outcome{State: StateOK}, at)
	}
}

// The worst the limits allow, about: hostile regexes (as many
// instructions as MaxRegexInstsTotal permits, many threads alive at once)
// on a 4 KiB string metric, the most ingest accepts. What bounds it is the
// compiled size; a later stage should still bound alarms per tenant.
func BenchmarkEvaluateWorstRegex(b *testing.B) {
	src := "if (" + strings.Repeat("metric['s'] regex '(x*){40}q' || ", 3) + "metric['s'] regex '(x*){40}q') { return CRITICAL } return OK"
	benchEvaluate(b, src, res(StatusOK, "", t0, "s", strings.Repeat("xxy", 4096/3)), nil, StateOK)
}
