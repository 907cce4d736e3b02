package plugin

import (
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

func FuzzCloudkick(f *testing.F) { fuzzParser(f, ParseCloudkick) }

func FuzzNagios(f *testing.F) { fuzzParser(f, ParseNagios) }

func FuzzInflux(f *testing.F) { fuzzParser(f, ParseInflux) }

func FuzzDetect(f *testing.F) {
	fuzzParser(f, func(out []byte, exit int, r *check.Result) error { return Parse(FormatAuto, out, exit, r) })
}
