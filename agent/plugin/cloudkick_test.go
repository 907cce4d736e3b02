package plugin

import (
	"strings"
	"testing"

	"github.com/vigilmon/vigil/agent/check"
)

func TestParseCloudkick(t *testing.T) {
	const xNote = `[1 line skipped; line 2: unrecognized line "x": want status, state, timestamp or metric]`
	tests := []parserTest{
		{
			// The example of the Rackspace plugin repository's README.
			name:    "rackspace readme",
			out:     "status ok succeeded in obtaining metrics\nmetric time int32 1 seconds\n",
			status:  check.OK,
			msg:     "succeeded in obtaining metrics",
			metrics: []check.Metric{str("legacy_state", "ok"), gauge("time", 1, "seconds")},
		},
		{
			// rcbops' nova_api_local_check.py example output ("status okay"
			// is not a legacy keyword: it is all message).
			name: "rcbops nova",
			out: "status okay\nmetric nova_api_local_status uint32 1\nmetric nova_api_local_response_time double 186.774 ms\n" +
				"metric nova_instances_in_state_ACTIVE uint32 2 instances\n",
			status: check.OK,
			msg:    "okay",
			metrics: []check.Metric{gauge("nova_api_local_status", 1, ""), gauge("nova_api_local_response_time", 186.774, "ms"),
				gauge("nova_instances_in_state_ACTIVE", 2, "instances")},
		},
		{
			name:   "every type",
			out:    "metric a string hello world\nmetric b gauge -1.5e3\nmetric c int32 -2147483648\nmetric d uint32 4294967295\nmetric e int64 -9000000000\nmetric f uint64 18446744073709551615\nmetric g double 0.25\nmetric h int 7\nmetric i float .5 percent\n",
			status: check.OK,
			metrics: []check.Metric{str("a", "hello world"), gauge("b", -1500, ""), gauge("c", -2147483648, ""), gauge("d", 4294967295, ""),
				gauge("e", -9000000000, ""), gauge("f", 18446744073709551615, ""), gauge("g", 0.25, ""), gauge("h", 7, ""), gauge("i", 0.5, "percent")},
		},
		{
			name:    "dotted and odd names kept whole",
			out:     "metric latency.p99 double 12.5 ms\nmetric TotalSize uint64 10 bytes\nmetric a:b-c_d.e gauge 1\n",
			status:  check.OK,
			metrics: []check.Metric{gauge("latency.p99", 12.5, "ms"), gauge("TotalSize", 10, "bytes"), gauge("a:b-c_d.e", 1, "")},
		},
		{
			name:    "string keeps inner spaces and takes no unit",
			out:     "metric version string  1.2.3  (build   42) seconds  \n",
			status:  check.OK,
			metrics: []check.Metric{str("version", "1.2.3  (build   42) seconds")},
		},
		{
			name:    "string invalid utf-8 replaced",
			out:     "metric s string caf\xe9\n",
			status:  check.OK,
			metrics: []check.Metric{str("s", "caf\uFFFD")},
		},
		{
			name:    "legacy warn",
			out:     "status warn disk 91% full\nmetric used_percent gauge 91 percent",
			status:  check.Warn,
			msg:     "disk 91% full",
			metrics: []check.Metric{str("legacy_state", "warn"), gauge("used_percent", 91, "percent")},
		},
		{
			name:    "legacy err is crit",
			out:     "status err cannot connect\n",
			status:  check.Crit,
			msg:     "cannot connect",
			metrics: []check.Metric{str("legacy_state", "err")},
		},
		{
			name:   "status without text",
			out:    "status\n",
			status: check.OK,
		},
		{
			name:   "first status line wins",
			out:    "status first\nstatus err second\n",
			status: check.OK,
			msg:    "first",
		},
		{
			name:   "state unavailable is unknown",
			out:    "status cannot reach database\nstate unavailable\n",
			status: check.Unknown,
			msg:    "cannot reach database",
		},
		{
			name:   "state unavailable without status",
			out:    "state unavailable\n",
			status: check.Unknown,
			msg:    "plugin reported state unavailable",
		},
		{
			name:   "state available",
			out:    "state available\nstatus fine\n",
			status: check.OK,
			msg:    "fine",
		},
		{
			name:    "timestamp accepted and ignored",
			out:     "timestamp 1700000000000\nmetric x int 1\n",
			status:  check.OK,
			metrics: []check.Metric{gauge("x", 1, "")},
		},
		{
			name:    "blank lines, CRLF, tabs and padding",
			out:     "\r\n  status ok all good \r\n\n\tmetric\tx\tint32\t5\tms\r\n   \n",
			status:  check.OK,
			msg:     "all good",
			metrics: []check.Metric{str("legacy_state", "ok"), gauge("x", 5, "ms")},
		},
		{
			name:   "empty output",
			out:    "",
			status: check.OK,
		},
		// Non-zero exit codes.
		{
			name:    "non-zero exit without status line",
			out:     "metric x int32 1\n",
			exit:    3,
			status:  check.Unknown,
			msg:     "plugin exited with code 3",
			metrics: []check.Metric{gauge("x", 1, "")},
		},
		{
			name:   "non-zero exit with status text",
			out:    "status something bad happened\n",
			exit:   2,
			status: check.Unknown,
			msg:    "something bad happened (exit code 2)",
		},
		{
			name:    "non-zero exit with legacy status keeps it",
			out:     "status err disk full\n",
			exit:    1,
			status:  check.Crit,
			msg:     "disk full (exit code 1)",
			metrics: []check.Metric{str("legacy_state", "err")},
		},
		{
			name:   "non-zero exit with empty status",
			out:    "status\n",
			exit:   1,
			status: check.Unknown,
			msg:    "plugin exited with code 1",
		},
		// Lines the Rackspace agent skips: the others count, the message
		// and plugin_parse_errors say what was skipped.
		{
			name:    "chatty first line skipped",
			out:     "Checking things...\nstatus ok all good\nmetric a int32 1\n",
			status:  check.OK,
			msg:     `all good [1 line skipped; line 1: unrecognized line "Checking things...": want status, state, timestamp or metric]`,
			metrics: []check.Metric{str("legacy_state", "ok"), gauge("a", 1, ""), gauge("plugin_parse_errors", 1, "")},
		},
		{
			name:    "bad metric line skipped, good ones kept",
			out:     "status ok\nmetric a int 1\nmetric b int32 1.5\nmetric c gauge 2.5 ms\n",
			status:  check.OK,
			msg:     `[1 line skipped; line 3: metric b: value "1.5" is not an integer in the range of int32]`,
			metrics: []check.Metric{str("legacy_state", "ok"), gauge("a", 1, ""), gauge("c", 2.5, "ms"), gauge("plugin_parse_errors", 1, "")},
		},
		{
			name:    "bad state after a good one",
			out:     "state available\nstate nope\nstatus fine\n",
			status:  check.OK,
			msg:     `fine [1 line skipped; line 2: state "nope": want "state available" or "state unavailable"]`,
			metrics: []check.Metric{gauge("plugin_parse_errors", 1, "")},
		},
		{
			name:    "legacy status kept with skipped lines",
			out:     "status err database down\nTraceback (most recent call last):\nmetric up int 0\n",
			status:  check.Crit,
			msg:     `database down [1 line skipped; line 2: unrecognized line "Traceback (most recent call last):": want status, state, timestamp or metric]`,
			metrics: []check.Metric{str("legacy_state", "err"), gauge("up", 0, ""), gauge("plugin_parse_errors", 1, "")},
		},
		{
			name:   "only the first three skipped lines are named",
			out:    "status ok\na\nb\nc\nd\ne\n",
			status: check.OK,
			msg: `[5 lines skipped; line 2: unrecognized line "a": want status, state, timestamp or metric; line 3: unrecognized line "b": want status, state, timestamp or metric; ` +
				`line 4: unrecognized line "c": want status, state, timestamp or metric]`,
			metrics: []check.Metric{str("legacy_state", "ok"), gauge("plugin_parse_errors", 5, "")},
		},
		{
			name:    "long status text leaves room for the note",
			out:     "status " + strings.Repeat("s", 300) + "\nx\n",
			status:  check.OK,
			msg:     strings.Repeat("s", 256-1-len(xNote)-len("…")) + "… " + xNote,
			metrics: []check.Metric{gauge("plugin_parse_errors", 1, "")},
		},
		{
			name:    "non-zero exit with only bad lines is not a parse error",
			out:     "Checking things...\n",
			exit:    1,
			status:  check.Unknown,
			msg:     `plugin exited with code 1 [1 line skipped; line 1: unrecognized line "Checking things...": want status, state, timestamp or metric]`,
			metrics: []check.Metric{gauge("plugin_parse_errors", 1, "")},
		},
		{
			name:   "metrics past the limit are skipped and counted",
			out:    strings.Repeat("metric a int 1\n", MaxMetrics+2),
			status: check.OK,
			msg:    "[2 lines skipped; line 2001: more than 2000 metrics; line 2002: more than 2000 metrics]",
			metrics: func() []check.Metric {
				m := make([]check.Metric, MaxMetrics)
				for i := range m {
					m[i] = gauge("a", 1, "")
				}
				return m
			}(),
		},
	}
	testParser(t, FormatCloudkick, tests)
}

func TestParseCloudkickErrors(t *testing.T) {
	tests := []errorCase{
		{"keyword must be a whole word", "statusok fine\n", []string{"line 1", "unrecognized line"}},
		{"keyword is case-sensitive", "Status ok\n", []string{"line 1", "unrecognized"}},
		{"metric alone", "metric\n", []string{"line 1", "metric without name"}},
		{"metric without type", "metric x\n", []string{"line 1", "metric x has no type"}},
		{"metric without value", "metric x int32\n", []string{"line 1", "metric x has no value"}},
		{"string without value", "metric x string   \n", []string{"line 1", "metric x has no value"}},
		{"unknown type", "\n\nmetric x int16 1\n", []string{"line 3", `unknown type "int16"`, "int32"}},
		{"type case-sensitive", "metric x INT32 1\n", []string{"line 1", `unknown type "INT32"`}},
		{"bad name char", "metric my/metric gauge 1\n", []string{"line 1", `metric name "my/metric" is not valid`}},
		{"name too long", "metric " + strings.Repeat("a", 129) + " gauge 1\n", []string{"line 1", "is not valid"}},
		{"int32 overflow", "metric x int32 2147483648\n", []string{"line 1", `value "2147483648" is not an integer in the range of int32`}},
		{"int32 underflow", "metric x int32 -2147483649\n", []string{"range of int32"}},
		{"uint32 overflow", "metric x uint32 4294967296\n", []string{"range of uint32"}},
		{"uint32 negative", "metric x uint32 -1\n", []string{"range of uint32"}},
		{"uint64 negative", "metric x uint64 -1\n", []string{"range of uint64"}},
		{"int64 overflow", "metric x int64 9223372036854775808\n", []string{"range of int64"}},
		{"int with fraction", "metric x int 1.5\n", []string{`value "1.5" is not an integer in the range of int`}},
		{"int hex", "metric x int32 0x10\n", []string{"not an integer"}},
		{"gauge not a number", "metric x gauge abc\n", []string{`value "abc" is not a finite number`}},
		{"gauge NaN", "metric x gauge NaN\n", []string{"not a finite number"}},
		{"gauge inf", "metric x double Inf\n", []string{"not a finite number"}},
		{"gauge overflow", "metric x double 1e400\n", []string{"not a finite number"}},
		{"gauge hex float", "metric x double 0x1p3\n", []string{"not a finite number"}},
		{"gauge underscore", "metric x float 1_000\n", []string{"not a finite number"}},
		{"gauge decimal comma", "metric x float 1,5\n", []string{"not a finite number"}},
		{"unit with space", "metric x int32 1 milli seconds\n", []string{"line 1", "too many words"}},
		{"unit too long", "metric x int32 1 " + strings.Repeat("u", 65) + "\n", []string{"unit", "longer than 64 bytes"}},
		{"unit invalid utf-8", "metric x int32 1 \xff\n", []string{"unit", "not valid UTF-8"}},
		{"string too long", "metric x string " + strings.Repeat("s", 1025) + "\n", []string{"line 1", "longer than 1024 bytes"}},
		{"bad state", "state maybe\n", []string{"line 1", `state "maybe"`, "available"}},
		{"empty state", "state\n", []string{"line 1", "state \"\""}},
		{"timestamp not a number", "timestamp soon\n", []string{"line 1", `timestamp "soon"`}},
		{"timestamp negative", "timestamp -5\n", []string{"non-negative"}},
		{"timestamp float", "timestamp 1.5\n", []string{"timestamp \"1.5\""}},
		{"timestamp missing", "timestamp\n", []string{"line 1", "timestamp"}},
		{"nagios output", "OK - all fine | x=1\n", []string{"line 1", "unrecognized"}},
		{"every line bad", "Checking things...\nmetric b int32 1.5\n", []string{"line 1", `unrecognized line "Checking things..."`}},
	}
	testParser(t, FormatCloudkick, errorCases(0, tests))
}
