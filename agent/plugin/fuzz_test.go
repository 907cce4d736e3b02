package plugin

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vigilmon/vigil/agent/check"
)

// Seeds shared by every fuzz target: each parser must also survive the
// other formats.
var fuzzSeeds = []string{
	"status ok succeeded in obtaining metrics\nmetric time int32 1 seconds\n",
	"status err x\nstate unavailable\ntimestamp 1\nmetric s string a b  c\nmetric u uint64 18446744073709551615 B\n",
	"metric x int32 2147483648\n",
	"metric latency.p99 double 1e308 ms\r\n\r\n",
	"DISK OK - free space: / 3326 MB (56%); | /=2643MB;5948;5958;0;5968\n/ 15272 MB (77%);\n/var/log 819 MB (84%); | /boot=68MB;88;93;0;98\n/home=69357MB;253404;253409;0;253414 \n",
	"OK | 'my ''quoted'' label'=5 '/ free'=7MB in=1c;@10:20;~:5;0;U x=U\n",
	"OK | a=1,5 'b\n",
	"weather,location=us-midwest temperature=82 1465839830100400200\n",
	"m,a=1,b=2 i=1i,u=2u,s=\"x\\\"y\",b=t 1\n# c\n",
	"cpu,Host=a v=1\n",
	"",
	"\x00\xff\n|\n'",
	// Lines the Cloudkick parser skips, after and before good ones.
	"Checking things...\nstatus ok all good\nmetric a int32 1\nmetric b int32 1.5\n",
	"status err x\nTraceback (most recent call last):\n  File \"p.py\", line 38\nstate maybe\ntimestamp -1\n",
	// Nagios long output, ranges, U and units.
	"CRITICAL: first\nsecond\nthird | a=5ms;10:20;@~:30;0;100\nb=1KB;~:10;10: c=U;@5;-3 d=3us;@10:20;:7 e=1TB;@1e3:\n",
	"OK\n\n  \nlong;\nmore | x=1;:;@;~:\n",
}

func fuzzParser(f *testing.F, parse func([]byte, int, *check.Result) error) {
	for i, s := range fuzzSeeds {
		f.Add([]byte(s), i%5-1)
	}
	f.Fuzz(func(t *testing.T, out []byte, exit int) {
		var r check.Result
		err := parse(out, exit, &r)
		checkInvariants(t, &r, err)
		// Parsing again into a used result gives the same answer.
		r2 := check.Result{Metrics: make([]check.Metric, 3)}
		err2 := parse(out, exit, &r2)
		if (err == nil) != (err2 == nil) || r.Status != r2.Status || r.Message != r2.Message || len(r.Metrics) != len(r2.Metrics) {
			t.Fatalf("not deterministic: %v %v %q %d / %v %v %q %d", err, r.Status, r.Message, len(r.Metrics), err2, r2.Status, r2.Message, len(r2.Metrics))
		}
	})
}

// FuzzCloudkick also holds the skipped lines to their bounds: counted in
// plugin_parse_errors, at most MaxSkippedReported named.
func FuzzCloudkick(f *testing.F) {
	fuzzParser(f, func(out []byte, exit int, r *check.Result) error {
		s, err := parseCloudkick(out, exit, r)
		if len(s.Errors) > MaxSkippedReported || len(s.Errors) > s.Lines || s.Lines > 0 && len(s.Errors) == 0 {
			panic(fmt.Sprintf("skipped %d lines, %d errors kept", s.Lines, len(s.Errors)))
		}
		for _, e := range s.Errors {
			if e.Line <= 0 || e.Format != FormatCloudkick {
				panic(fmt.Sprintf("skipped line error %+v", e))
			}
		}
		counted := -1.0
		for _, m := range r.Metrics {
			if m.Name == ParseErrorsMetric {
				counted = m.Value
			}
		}
		if err == nil && s.Lines > 0 && len(r.Metrics) < MaxMetrics && counted != float64(s.Lines) {
			panic(fmt.Sprintf("%d lines skipped, %s = %v", s.Lines, ParseErrorsMetric, counted))
		}
		return err
	})
}

// FuzzLastStderrLine: the line taken from stderr for a message is one
// trimmed line of it that says something, or nothing.
func FuzzLastStderrLine(f *testing.F) {
	f.Add([]byte("Traceback (most recent call last):\n  File \"p.py\", line 38\n    def f(:\n         ^\nSyntaxError: invalid syntax\n"), 0)
	f.Add([]byte("a\n^^^^\n\n"), 2)
	f.Add([]byte(""), 1)
	f.Fuzz(func(t *testing.T, stderr []byte, max int) {
		b := &capBuffer{max: (max%64+64)%64 + 1, tailMax: 16}
		// Like any io.Writer for os/exec, it takes all of p, cut or not.
		if n, err := b.Write(stderr); n != len(stderr) || err != nil {
			t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(stderr))
		}
		line := lastStderrLine(b)
		if strings.ContainsAny(line, "\n") || line != strings.TrimSpace(line) {
			t.Fatalf("line %q", line)
		}
		if line != "" && !strings.Contains(string(stderr), line) {
			t.Fatalf("line %q is not from stderr %q", line, stderr)
		}
		if len(b.tail) > 16 || len(b.buf) > b.max {
			t.Fatalf("kept %d + %d bytes", len(b.buf), len(b.tail))
		}
		if n := min(len(stderr), 16); string(b.tail) != string(stderr[len(stderr)-n:]) {
			t.Fatalf("tail %q of %q", b.tail, stderr)
		}
	})
}

func FuzzNagios(f *testing.F) { fuzzParser(f, ParseNagios) }

func FuzzInflux(f *testing.F) { fuzzParser(f, ParseInflux) }

func FuzzDetect(f *testing.F) {
	fuzzParser(f, func(out []byte, exit int, r *check.Result) error { return Parse(FormatAuto, out, exit, r) })
}
