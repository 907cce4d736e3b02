package plugin

import (
	"strings"
	"testing"

	"github.com/vigilmon/vigil/agent/check"
)

func TestParseNagios(t *testing.T) {
	pd := func(v string) check.Label { return lbl("perfdata", v) }
	tests := []parserTest{
		{
			// Nagios plugin API documentation, first example.
			name:   "api doc single line",
			out:    "DISK OK - free space: / 3326 MB (56%); | /=2643MB;5948;5958;0;5968\n",
			status: check.OK,
			msg:    "DISK OK - free space: / 3326 MB (56%);",
			metrics: []check.Metric{gauge("value", 2643, "MB", pd("/")), gauge("value_warn", 5948, "MB", pd("/")),
				gauge("value_crit", 5958, "MB", pd("/")), gauge("value_min", 0, "MB", pd("/")), gauge("value_max", 5968, "MB", pd("/"))},
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
			msg:    "DISK OK - free space: / 3326 MB (56%);",
			metrics: []check.Metric{
				gauge("value", 2643, "MB", pd("/")), gauge("value_warn", 5948, "MB", pd("/")), gauge("value_crit", 5958, "MB", pd("/")),
				gauge("value_min", 0, "MB", pd("/")), gauge("value_max", 5968, "MB", pd("/")),
				gauge("value", 68, "MB", pd("/boot")), gauge("value_warn", 88, "MB", pd("/boot")), gauge("value_crit", 93, "MB", pd("/boot")),
				gauge("value_min", 0, "MB", pd("/boot")), gauge("value_max", 98, "MB", pd("/boot")),
				gauge("value", 69357, "MB", pd("/home")), gauge("value_warn", 253404, "MB", pd("/home")), gauge("value_crit", 253409, "MB", pd("/home")),
				gauge("value_min", 0, "MB", pd("/home")), gauge("value_max", 253414, "MB", pd("/home")),
				gauge("value", 818, "MB", pd("/var/log")), gauge("value_warn", 970, "MB", pd("/var/log")), gauge("value_crit", 975, "MB", pd("/var/log")),
				gauge("value_min", 0, "MB", pd("/var/log")), gauge("value_max", 980, "MB", pd("/var/log")),
			},
		},
		{
			name:   "check_ping",
			out:    "PING OK - Packet loss = 0%, RTA = 0.80 ms|rta=0.800000ms;100.000000;500.000000;0.000000 pl=0%;20;60;0\n",
			status: check.OK,
			msg:    "PING OK - Packet loss = 0%, RTA = 0.80 ms",
			metrics: []check.Metric{gauge("rta", 0.8, "ms"), gauge("rta_warn", 100, "ms"), gauge("rta_crit", 500, "ms"), gauge("rta_min", 0, "ms"),
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
			metrics: []check.Metric{gauge("value", 5, "", pd("my 'quoted' label")), gauge("simple", 6, ""), gauge("value", 7, "MB", pd("/ free")),
				gauge("value", 8, "", pd("a=b")), gauge("value", 9, "", pd("'"))},
		},
		{
			name:    "counter and units",
			out:     "OK | in=123c t=1s a=2us b=3% c=4KB d=5GB e=6TB f=7B g=8KiB h=9°C i=10req/s\n",
			status:  check.OK,
			msg:     "OK",
			metrics: []check.Metric{counter("in", 123), gauge("t", 1, "s"), gauge("a", 2, "us"), gauge("b", 3, "%"), gauge("c", 4, "KB"), gauge("d", 5, "GB"), gauge("e", 6, "TB"), gauge("f", 7, "B"), gauge("g", 8, "KiB"), gauge("h", 9, "°C"), gauge("i", 10, "req/s")},
		},
		{
			name:    "counter thresholds are gauges",
			out:     "OK | in=5c;10;20;0\n",
			status:  check.OK,
			msg:     "OK",
			metrics: []check.Metric{counter("in", 5), gauge("in_warn", 10, ""), gauge("in_crit", 20, ""), gauge("in_min", 0, "")},
		},
		{
			name:    "ranges are checked and dropped, plain numbers kept",
			out:     "OK | a=5;10:20;@~:30;0;100 b=1;~:10;10: c=2;@5;-3 d=3;@10:20;:7\n",
			status:  check.OK,
			msg:     "OK",
			metrics: []check.Metric{gauge("a", 5, ""), gauge("a_min", 0, ""), gauge("a_max", 100, ""), gauge("b", 1, ""), gauge("c", 2, ""), gauge("c_crit", -3, ""), gauge("d", 3, "")},
		},
		{
			name:    "unit repeated on thresholds",
			out:     "OK | time=1.5s;5s;10s;0s;60s\n",
			status:  check.OK,
			msg:     "OK",
			metrics: []check.Metric{gauge("time", 1.5, "s"), gauge("time_warn", 5, "s"), gauge("time_crit", 10, "s"), gauge("time_min", 0, "s"), gauge("time_max", 60, "s")},
		},
		{
			name:    "U skips the item",
			out:     "UNKNOWN - no data | a=U;1;2 b=3 'c d'=U\n",
			exit:    3,
			status:  check.Unknown,
			msg:     "UNKNOWN - no data",
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
			msg:     "PROCS OK: 70 processes",
			metrics: []check.Metric{gauge("procs", 70, ""), gauge("procs_min", 0, "")},
		},
		{
			name:    "perfdata only on a later line",
			out:     "OK: fine\nlong text\nmore text | a=1\tb=2\r\nc=3\n",
			status:  check.OK,
			msg:     "OK: fine",
			metrics: []check.Metric{gauge("a", 1, ""), gauge("b", 2, ""), gauge("c", 3, "")},
		},
		{
			name:   "long output without perfdata",
			out:    "WARNING: 2 problems\nproblem 1\nproblem 2\n",
			exit:   1,
			status: check.Warn,
			msg:    "WARNING: 2 problems",
		},
		{
			name:   "pipe without perfdata",
			out:    "OK |   \n",
			status: check.OK,
			msg:    "OK",
		},
		{
			name:    "long label becomes perfdata label",
			out:     "OK | " + strings.Repeat("a", 124) + "=1 " + strings.Repeat("b", 123) + "=2\n",
			status:  check.OK,
			msg:     "OK",
			metrics: []check.Metric{gauge("value", 1, "", pd(strings.Repeat("a", 124))), gauge(strings.Repeat("b", 123), 2, "")},
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
