package plugin

import (
	"strings"
	"testing"

	"github.com/vigilmon/vigil/agent/check"
)

func TestParseNagios(t *testing.T) {
	pd := func(v string) check.Label { return lbl("perfdata", v) }
	const mb = 1 << 20
	tests := []parserTest{
		{
			// Nagios plugin API documentation, first example.
			name:   "api doc single line",
			out:    "DISK OK - free space: / 3326 MB (56%); | /=2643MB;5948;5958;0;5968\n",
			status: check.OK,
			msg:    "DISK OK - free space: / 3326 MB (56%);",
			metrics: []check.Metric{gauge("value", 2643*mb, "B", pd("/")), gauge("value_warn", 5948*mb, "B", pd("/")),
				gauge("value_crit", 5958*mb, "B", pd("/")), gauge("value_min", 0, "B", pd("/")), gauge("value_max", 5968*mb, "B", pd("/"))},
		},
		{
			// Nagios plugin API documentation, long output example.
			name: "api doc long output",
			out: "DISK OK - free space: / 3326 MB (56%); | /=2643MB;5948;5958;0;5968\n" +
				"/ 15272 MB (77%);\n/boot 68 MB (69%);\n/home 69357 MB (27%);\n" +
				"/var/log 819 MB (84%); | /boot=68MB;88;93;0;98\n" +
				"/home=69357MB;253404;253409;0;253414 \n/var/log=818MB;970;975;0;980\n",
			exit:   0,
			status: check.OK,
			// The long output follows the first line in the message.
			msg: "DISK OK - free space: / 3326 MB (56%); / 15272 MB (77%); /boot 68 MB (69%); /home 69357 MB (27%); /var/log 819 MB (84%);",
			metrics: []check.Metric{
				gauge("value", 2643*mb, "B", pd("/")), gauge("value_warn", 5948*mb, "B", pd("/")), gauge("value_crit", 5958*mb, "B", pd("/")),
				gauge("value_min", 0, "B", pd("/")), gauge("value_max", 5968*mb, "B", pd("/")),
				gauge("value", 68*mb, "B", pd("/boot")), gauge("value_warn", 88*mb, "B", pd("/boot")), gauge("value_crit", 93*mb, "B", pd("/boot")),
				gauge("value_min", 0, "B", pd("/boot")), gauge("value_max", 98*mb, "B", pd("/boot")),
				gauge("value", 69357*mb, "B", pd("/home")), gauge("value_warn", 253404*mb, "B", pd("/home")), gauge("value_crit", 253409*mb, "B", pd("/home")),
				gauge("value_min", 0, "B", pd("/home")), gauge("value_max", 253414*mb, "B", pd("/home")),
				gauge("value", 818*mb, "B", pd("/var/log")), gauge("value_warn", 970*mb, "B", pd("/var/log")), gauge("value_crit", 975*mb, "B", pd("/var/log")),
				gauge("value_min", 0, "B", pd("/var/log")), gauge("value_max", 980*mb, "B", pd("/var/log")),
			},
		},
		{
			name:   "check_ping",
			out:    "PING OK - Packet loss = 0%, RTA = 0.80 ms|rta=0.800000ms;100.000000;500.000000;0.000000 pl=0%;20;60;0\n",
			status: check.OK,
			msg:    "PING OK - Packet loss = 0%, RTA = 0.80 ms",
			metrics: []check.Metric{gauge("rta", 0.0008, "s"), gauge("rta_warn", 0.1, "s"), gauge("rta_crit", 0.5, "s"), gauge("rta_min", 0, "s"),
				gauge("pl", 0, "%"), gauge("pl_warn", 20, "%"), gauge("pl_crit", 60, "%"), gauge("pl_min", 0, "%")},
		},
		{
			name:   "check_load -r, warning, trailing space",
			out:    "LOAD WARNING - scaled load average: 0.34, 0.21, 0.09|load1=0.680;;;0; scaled_load1=0.340;0.010;100.000;0; \n",
			exit:   1,
			status: check.Warn,
			msg:    "LOAD WARNING - scaled load average: 0.34, 0.21, 0.09",
			metrics: []check.Metric{gauge("load1", 0.68, ""), gauge("load1_min", 0, ""),
				gauge("scaled_load1", 0.34, ""), gauge("scaled_load1_warn", 0.01, ""), gauge("scaled_load1_crit", 100, ""), gauge("scaled_load1_min", 0, "")},
		},
		{
			name:    "check_swap without swap",
			out:     "SWAP CRITICAL - 0% free (0MB out of 0MB) - Swap is either disabled, not present, or of zero size. |swap=0B;0;0;0;0\n",
			exit:    2,
			status:  check.Crit,
			msg:     "SWAP CRITICAL - 0% free (0MB out of 0MB) - Swap is either disabled, not present, or of zero size.",
			metrics: []check.Metric{gauge("swap", 0, "B"), gauge("swap_warn", 0, "B"), gauge("swap_crit", 0, "B"), gauge("swap_min", 0, "B"), gauge("swap_max", 0, "B")},
		},
		{
			name:   "quoted labels",
			out:    "OK | 'my ''quoted'' label'=5 'simple'=6 '/ free'=7MB 'a=b'=8 ''''=9\n",
			status: check.OK,
			msg:    "OK",
			metrics: []check.Metric{gauge("value", 5, "", pd("my 'quoted' label")), gauge("simple", 6, ""), gauge("value", 7*mb, "B", pd("/ free")),
				gauge("value", 8, "", pd("a=b")), gauge("value", 9, "", pd("'"))},
		},
		{
			name:   "counter and units",
			out:    "OK | in=123c t=1s a=2us b=3% c=4KB d=5GB e=6TB f=7B g=8KiB h=9°C i=10req/s j=250ms k=1.5MB\n",
			status: check.OK,
			msg:    "OK",
			// Guideline units in base units (seconds, bytes); others as they are.
			metrics: []check.Metric{counter("in", 123), gauge("t", 1, "s"), gauge("a", 0.000002, "s"), gauge("b", 3, "%"), gauge("c", 4096, "B"),
				gauge("d", 5<<30, "B"), gauge("e", 6<<40, "B"), gauge("f", 7, "B"), gauge("g", 8, "KiB"), gauge("h", 9, "°C"), gauge("i", 10, "req/s"),
				gauge("j", 0.25, "s"), gauge("k", 1.5*mb, "B")},
		},
		{
			name:    "counter thresholds are gauges",
			out:     "OK | in=5c;10;20;0\n",
			status:  check.OK,
			msg:     "OK",
			metrics: []check.Metric{counter("in", 5), gauge("in_warn", 10, ""), gauge("in_crit", 20, ""), gauge("in_min", 0, "")},
		},
		{
			// Outside start:end alerts: _min and _max; inside @start:end
			// alerts: _inside_min and _inside_max; an infinite end (~, or
			// none after ':') has no gauge.
			name:   "ranges become min and max gauges",
			out:    "OK | a=5;10:20;@~:30;0;100 b=1;~:10;10: c=2;@5;-3 d=3;@10:20;:7 e=4ms;1:2.5ms\n",
			status: check.OK,
			msg:    "OK",
			metrics: []check.Metric{gauge("a", 5, ""), gauge("a_warn_min", 10, ""), gauge("a_warn_max", 20, ""), gauge("a_crit_inside_max", 30, ""),
				gauge("a_min", 0, ""), gauge("a_max", 100, ""),
				gauge("b", 1, ""), gauge("b_warn_max", 10, ""), gauge("b_crit_min", 10, ""),
				gauge("c", 2, ""), gauge("c_warn_inside_min", 0, ""), gauge("c_warn_inside_max", 5, ""), gauge("c_crit", -3, ""),
				gauge("d", 3, ""), gauge("d_warn_inside_min", 10, ""), gauge("d_warn_inside_max", 20, ""), gauge("d_crit_min", 0, ""), gauge("d_crit_max", 7, ""),
				gauge("e", 0.004, "s"), gauge("e_warn_min", 0.001, "s"), gauge("e_warn_max", 0.0025, "s")},
		},
		{
			name:    "unit repeated on thresholds",
			out:     "OK | time=1.5s;5s;10s;0s;60s\n",
			status:  check.OK,
			msg:     "OK",
			metrics: []check.Metric{gauge("time", 1.5, "s"), gauge("time_warn", 5, "s"), gauge("time_crit", 10, "s"), gauge("time_min", 0, "s"), gauge("time_max", 60, "s")},
		},
		{
			name:    "U is named in the message",
			out:     "UNKNOWN - no data | a=U;1;2 b=3 'c d'=U\n",
			exit:    3,
			status:  check.Unknown,
			msg:     `UNKNOWN - no data [unknown (U): "a", "c d"]`,
			metrics: []check.Metric{gauge("b", 3, "")},
		},
		{
			name:    "numbers",
			out:     "OK | a=-1 b=+2 c=.5 d=5. e=1e3 f=2.5E-2 g=0 h=1U;U;U\n",
			status:  check.OK,
			msg:     "OK",
			metrics: []check.Metric{gauge("a", -1, ""), gauge("b", 2, ""), gauge("c", 0.5, ""), gauge("d", 5, ""), gauge("e", 1000, ""), gauge("f", 0.025, ""), gauge("g", 0, ""), gauge("h", 1, "U")},
		},
		{
			name:    "empty trailing fields",
			out:     "PROCS OK: 70 processes | procs=70;;;0;\nx=1;2;3;4;5;\n",
			status:  check.OK,
			msg:     "PROCS OK: 70 processes; x=1;2;3;4;5;", // no '|' before it: long output
			metrics: []check.Metric{gauge("procs", 70, ""), gauge("procs_min", 0, "")},
		},
		{
			name:    "perfdata only on a later line",
			out:     "OK: fine\nlong text\nmore text | a=1\tb=2\r\nc=3\n",
			status:  check.OK,
			msg:     "OK: fine; long text; more text",
			metrics: []check.Metric{gauge("a", 1, ""), gauge("b", 2, ""), gauge("c", 3, "")},
		},
		{
			name:   "long output without perfdata",
			out:    "WARNING: 2 problems\nproblem 1\nproblem 2\n",
			exit:   1,
			status: check.Warn,
			msg:    "WARNING: 2 problems; problem 1; problem 2",
		},
		{
			// The first line stays whole; the long output fills the rest.
			name:   "long output cut to the message limit",
			out:    "CRITICAL: " + strings.Repeat("f", 200) + "\n" + strings.Repeat("l", 100) + "\nmore\n",
			exit:   2,
			status: check.Crit,
			msg:    "CRITICAL: " + strings.Repeat("f", 200) + "; " + strings.Repeat("l", 256-len("CRITICAL: ")-200-len("; ")-len("…")) + "…",
		},
		{
			name:   "first line longer than the limit",
			out:    strings.Repeat("x", 300) + "\nlong\n",
			status: check.OK,
			msg:    strings.Repeat("x", 253) + "…",
		},
		{
			name:   "blank lines of long output dropped",
			out:    "OK\n\n  \nsecond\n",
			status: check.OK,
			msg:    "OK; second",
		},
		{
			name:   "long output when the first line is empty",
			out:    "\nsecond\n",
			exit:   2,
			status: check.Crit,
			msg:    "second",
		},
		{
			name:    "many U items: the first 8 named",
			out:     "OK | a=U b=U c=U d=U e=U f=U g=U h=U i=U j=1\n",
			status:  check.OK,
			msg:     `OK [unknown (U): "a", "b", "c", "d", "e", "f", "g", "h"]`,
			metrics: []check.Metric{gauge("j", 1, "")},
		},
		{
			name:   "pipe without perfdata",
			out:    "OK |   \n",
			status: check.OK,
			msg:    "OK",
		},
		{
			name:   "long label becomes perfdata label",
			out:    "OK | " + strings.Repeat("a", 113) + "=1 " + strings.Repeat("b", 112) + "=2;@1:2\n",
			status: check.OK,
			msg:    "OK",
			metrics: []check.Metric{gauge("value", 1, "", pd(strings.Repeat("a", 113))), gauge(strings.Repeat("b", 112), 2, ""),
				gauge(strings.Repeat("b", 112)+"_warn_inside_min", 1, ""), gauge(strings.Repeat("b", 112)+"_warn_inside_max", 2, "")},
		},
		{name: "exit 2 is crit", out: "CRITICAL - down\n", exit: 2, status: check.Crit, msg: "CRITICAL - down"},
		{name: "exit 3 is unknown", out: "UNKNOWN - eh\n", exit: 3, status: check.Unknown, msg: "UNKNOWN - eh"},
		{name: "exit 4 is unknown", out: "weird\n", exit: 4, status: check.Unknown, msg: "weird (exit code 4)"},
		{name: "exit 255 without output", out: "", exit: 255, status: check.Unknown, msg: "plugin exited with code 255"},
		{name: "exit 2 without output", out: "\n", exit: 2, status: check.Crit, msg: "plugin exited with code 2"},
		{name: "exit 0 without output", out: "", exit: 0, status: check.OK, msg: ""},
		{name: "message cut", out: strings.Repeat("x", 300) + "\n", status: check.OK, msg: strings.Repeat("x", 253) + "…"},
	}
	testParser(t, FormatNagios, tests)
}

func TestParseNagiosErrors(t *testing.T) {
	tests := []errorCase{
		{"no equals", "OK | a\n", []string{"line 1", `perfdata "a": no '='`}},
		{"space before equals", "OK | a =1\n", []string{"line 1", `"a": no '='`}},
		{"unterminated quote", "OK | 'abc=1\n", []string{"line 1", "without closing quote"}},
		{"text after closing quote", "OK | 'abc'x=1\n", []string{"line 1", `"abc": want '=' right after the closing quote`}},
		{"empty label", "OK | =1\n", []string{"line 1", "empty label"}},
		{"empty quoted label", "OK | ''=1\n", []string{"line 1", "empty label"}},
		{"no value", "OK | a=\n", []string{"line 1", `"a": no value`}},
		{"no value before thresholds", "OK | a=;1\n", []string{`"a": no value`}},
		{"value not a number", "OK | a=abc\n", []string{`"a": value "abc" is not a number`}},
		{"decimal comma", "OK | a=1,5\n", []string{`unit of measure ",5"`, "decimal comma"}},
		{"bad unit", "OK | a=1m$\n", []string{`unit of measure "m$"`}},
		{"value out of range", "OK | a=1e999\n", []string{`value "1e999" is out of range`}},
		{"too many fields", "OK | a=1;2;3;4;5;6\n", []string{"6 ';'-separated fields"}},
		{"bad warn", "OK | a=1;x\n", []string{`warn threshold "x" is neither a number nor a range`}},
		{"bad crit", "OK | a=1;;1:2:3\n", []string{`crit threshold "1:2:3"`}},
		{"bare at", "OK | a=1;@\n", []string{`warn threshold "@"`}},
		{"bare colon", "OK | a=1;:\n", []string{`warn threshold ":"`}},
		{"tilde end", "OK | a=1;10:~\n", []string{`warn threshold "10:~"`}},
		{"bad min", "OK | a=1;;;x\n", []string{`min "x" is not a number`}},
		{"range as max", "OK | a=1;;;;10:20\n", []string{`max "10:20" is not a number`}},
		{"threshold with other unit", "OK | a=1s;5ms\n", []string{`warn threshold "5ms"`}},
		{"label too long", "OK | '" + strings.Repeat("/", 257) + "'=1\n", []string{"label is longer than 256 bytes"}},
		{"label control char", "OK | 'a\x01b'=1\n", []string{"control character"}},
		{"label invalid utf-8", "OK | '\xff'=1\n", []string{"not valid UTF-8"}},
		{"second pipe", "OK | a=1 | b=2\n", []string{"line 1", `"|": no '='`}},
		{"error on a later perfdata line", "OK\nlong | a=1\nb\n", []string{"line 3", `"b": no '='`}},
		{"too many metrics", "OK |" + strings.Repeat(" a=1;1;1;1;1", MaxMetrics/5+1), []string{"more than 2000 metrics"}},
	}
	testParser(t, FormatNagios, errorCases(2, tests))
}
