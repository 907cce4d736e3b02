package importer

import (
	"bytes"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vigilmon/vigil/collector/promapi"
	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/collector/store/pebble"
)

func TestParseText(t *testing.T) {
	var s sample
	for _, tc := range []struct {
		line   string
		ok     bool
		name   string
		labels string
		v      float64
		ts     int64
	}{
		{`cpu_user_percent{host="h1",check="cpu"} 17.3 1795132800066`, true, "cpu_user_percent", `host=h1 check=cpu`, 17.3, 1795132800066},
		{`up 1 1795132800.5`, true, "up", ``, 1, 1795132800500},
		{`x{a="q\"\\\n", b = "2",} -Inf 1795132800 # {trace="1"} 1`, true, "x", "a=q\"\\\n b=2", math.Inf(-1), 1795132800000},
		{`# TYPE x gauge`, false, "", "", 0, 0},
		{``, false, "", "", 0, 0},
	} {
		ok, err := parseText([]byte(tc.line), &s)
		if err != nil || ok != tc.ok {
			t.Fatalf("%q: ok %v, %v", tc.line, ok, err)
		}
		if !ok {
			continue
		}
		var ls []string
		for _, l := range s.labels {
			ls = append(ls, string(l.key)+"="+string(l.value))
		}
		if string(s.name) != tc.name || strings.Join(ls, " ") != tc.labels || s.value != tc.v || s.ts != tc.ts {
			t.Errorf("%q: got %s %v %v %d", tc.line, s.name, ls, s.value, s.ts)
		}
	}
	for _, bad := range []string{`x 1`, `x{a="1" 1 2`, `x{a=1} 1 2`, `x abc 2`, `x 1 2 3`, `{a="1"} 1 2`} {
		if _, err := parseText([]byte(bad), &s); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestImport(t *testing.T) {
	dir := t.TempDir()
	prom := "# TYPE cpu_user_percent gauge\n" +
		"cpu_user_percent{host=\"h1\",check=\"cpu\"} 17.3 1795132800066\n" +
		"garbage here\n" +
		"cpu_user_percent{host=\"h1\",check=\"cpu\"} 18.1 1795132830012\n" +
		"net_bytes_total{host=\"h1\",dev=\"eth0\"} 100 1795132800.066\n"
	vm := `{"metric":{"__name__":"load1","host":"h2"},"values":[0.5,0.7],"timestamps":[1795132800000,1795132830000]}` + "\n" +
		`{"metric":{"__name__":"load1"},"values":[1],"timestamps":[1,2]}` + "\n"
	writeFile(t, filepath.Join(dir, "a.prom"), prom)
	writeFile(t, filepath.Join(dir, "b.json"), vm)
	st, err := pebble.Open(filepath.Join(dir, "db"), pebble.Options{Logger: slog.New(slog.DiscardHandler), CompactInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out bytes.Buffer
	sum, err := Import(t.Context(), st, Options{Tenant: "acme", Batch: 2, Progress: &out},
		[]string{filepath.Join(dir, "a.prom"), filepath.Join(dir, "b.json")})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Points != 5 || sum.Series != 3 || sum.BadLines != 2 || sum.Files != 2 {
		t.Errorf("summary %+v", sum)
	}
	if !strings.Contains(out.String(), "a.prom:3: ") || !strings.Contains(out.String(), "b.json:2: ") {
		t.Errorf("bad lines not reported by line: %q", out.String())
	}
	ss, err := st.Series(t.Context(), store.SeriesFilter{Tenant: "acme", Agent: "h1"})
	if err != nil || len(ss) != 2 {
		t.Fatalf("series of h1: %v, %v", ss, err)
	}
	for _, s := range ss {
		if s.Check != promapi.ImportCheck {
			t.Errorf("series %+v not of check %s", s, promapi.ImportCheck)
		}
		if s.Metric == "net_bytes_total" && (s.Type != store.Counter || fmt.Sprint(s.Labels) != "[{dev eth0} {host h1}]") {
			t.Errorf("net series %+v", s)
		}
	}
	pts, err := st.Points(t.Context(), ss[0].ID, 0, math.MaxInt64, 0)
	if err != nil || len(pts) == 0 {
		t.Fatalf("points: %v, %v", pts, err)
	}
}

func FuzzParseText(f *testing.F) {
	f.Add([]byte(`x{a="q\"\\\n",b="2"} -1.5e3 1795132800066`))
	f.Add([]byte(`up 1 1795132800.5 # {a="b"} 1`))
	f.Fuzz(func(t *testing.T, line []byte) {
		var s sample
		ok, err := parseText(line, &s)
		switch {
		case ok && (err != nil || len(s.name) == 0):
			t.Fatalf("%q: ok with error %v, name %q", line, err, s.name)
		case !ok && err == nil:
			// Only blank lines and comments are skipped without an error.
			if l := bytes.TrimSpace(line); len(l) > 0 && l[0] != '#' {
				t.Fatalf("%q: skipped without an error", line)
			}
		}
	})
}

func FuzzParseVM(f *testing.F) {
	f.Add([]byte(`{"metric":{"__name__":"load1","host":"h2"},"values":[0.5,null,"NaN"],"timestamps":[1,2,3]}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		var l vmLine
		if ok, err := parseVM(line, &l); ok && err == nil && len(l.Values) != len(l.Timestamps) {
			t.Fatal("values and timestamps differ in length")
		}
	})
}

// pointWriter hides the Pebble store's WriteChunks: the import writes
// point by point.
type pointWriter struct{ store.Store }

// TestImportBlocks imports the same file into blocks (small buffers, so
// that series-days are flushed when full, when their day changes and at
// the end, and merged with what is stored) and point by point: the stores
// read the same, and importing again changes nothing.
func TestImportBlocks(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	const day = 86_400_000
	t0 := int64(1795132800000 - day/2)
	for i := range int64(200) {
		for _, s := range []string{`a{host="h1"}`, `b{host="h1"}`, `c_total{host="h2"}`} {
			ts := t0 + i*day/150 + i%7 // crosses a day boundary
			fmt.Fprintf(&b, "%s %d.%d %d\n", s, i*3%17, i%10, ts)
		}
	}
	b.WriteString(`a{host="h1"} 99 ` + fmt.Sprint(t0) + "\n") // rewrites the first point
	file := filepath.Join(dir, "x.prom")
	writeFile(t, file, b.String())
	open := func(name string) *pebble.Store {
		st, err := pebble.Open(filepath.Join(dir, name), pebble.Options{Logger: slog.New(slog.DiscardHandler), CompactInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	blocks, points := open("blocks"), open("points")
	opts := Options{Tenant: "acme", Buffer: 7, BlockBatch: 5}
	for range 2 {
		if sum, err := Import(t.Context(), blocks, opts, []string{file}); err != nil || sum.Points != 601 {
			t.Fatalf("import into blocks: %+v, %v", sum, err)
		}
	}
	if _, err := Import(t.Context(), pointWriter{points}, Options{Tenant: "acme"}, []string{file}); err != nil {
		t.Fatal(err)
	}
	ss, err := points.Series(t.Context(), store.SeriesFilter{Tenant: "acme"})
	if err != nil || len(ss) != 3 {
		t.Fatalf("series: %v, %v", ss, err)
	}
	for _, s := range ss {
		want, err1 := points.Points(t.Context(), s.ID, math.MinInt64, math.MaxInt64, 0)
		got, err2 := blocks.Points(t.Context(), s.ID, math.MinInt64, math.MaxInt64, 0)
		if err1 != nil || err2 != nil || len(want) != 200 || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: %d points from blocks, %d point by point (%v, %v)", s.Metric, len(got), len(want), err1, err2)
		}
		if s.Metric == "a" && want[0].Value != 99 {
			t.Errorf("first point of a: %v, want the later line's 99", want[0])
		}
	}
}

// TestImportKeepsNames: an imported series keeps its name and labels,
// as Prometheus labels too; its agent (for /v1/) is its agent label, else
// the --agent-label one, else unknown; lines that Prometheus would not
// take, or that could share a label set with Vigil's own series, are bad
// with a reason.
func TestImportKeepsNames(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "x.prom")
	writeFile(t, file, `# HELP node_load1 1m load average.
# TYPE node_load1 gauge
node_load1{instance="a:9100",job="node"} 0.5 1795132800000
http_requests_total{instance="a:9100",code="200",check="x",empty=""} 7 1795132800000
up{agent="web-1",instance="a:9100"} 1 1795132800000
up{host="h1",instance="b:9100"} 1 1795132800000
up{agent="web-1",check="cpu"} 1 1795132800000
cpu.usage{a="1"} 1 1795132800000
x{__meta="1"} 1 1795132800000
x{1a="1"} 1 1795132800000
`)
	st, err := pebble.Open(filepath.Join(dir, "db"), pebble.Options{Logger: slog.New(slog.DiscardHandler), CompactInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out bytes.Buffer
	sum, err := Import(t.Context(), st, Options{Tenant: "acme", Progress: &out}, []string{file})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Points != 4 || sum.BadLines != 4 || sum.Skipped != 2 || sum.Lines != 10 {
		t.Errorf("summary %+v", sum)
	}
	for _, want := range []string{
		"x.prom:7: series up has both an agent and a check label",
		"x.prom:8: metric name \"cpu.usage\": want a Prometheus name",
		"x.prom:9: series x: label name \"__meta\"",
		"x.prom:10: ",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	ss, err := st.Series(t.Context(), store.SeriesFilter{Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range ss {
		got = append(got, s.Agent+" "+promapi.Labels(&s).String())
	}
	slices.Sort(got)
	want := []string{
		`h1 {__name__="up", host="h1", instance="b:9100"}`,
		`unknown {__name__="http_requests_total", check="x", code="200", instance="a:9100"}`,
		`unknown {__name__="node_load1", instance="a:9100", job="node"}`,
		`web-1 {__name__="up", agent="web-1", instance="a:9100"}`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("series:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestSummaryCheck(t *testing.T) {
	for _, tt := range []struct {
		sum    Summary
		maxBad float64
		err    string
	}{
		{Summary{Lines: 10, Points: 10}, 0, ""},
		{Summary{Lines: 0}, 0.5, "nothing imported"},
		{Summary{Lines: 5, BadLines: 5}, 1, "nothing imported"},
		{Summary{Lines: 102, Skipped: 2, BadLines: 1, Points: 99}, 0.01, ""},
		{Summary{Lines: 102, Skipped: 2, BadLines: 2, Points: 98}, 0.01, "2 of 100 sample lines bad (2.0%), more than --max-bad 0.01"},
		{Summary{Lines: 102, Skipped: 2, BadLines: 50, Points: 50}, 0.5, ""},
	} {
		err := tt.sum.Check(tt.maxBad)
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("%+v with %v: %v, want %q", tt.sum, tt.maxBad, err, tt.err)
		}
	}
}

// FuzzImportedLabels: a text line the importer takes becomes a series
// whose Prometheus labels are exactly the line's name and non-empty
// labels, and which never has both agent and check labels (those of
// Vigil's own series).
func FuzzImportedLabels(f *testing.F) {
	f.Add([]byte(`node_load1{instance="a:9100",job="node"} 0.5 1795132800000`))
	f.Add([]byte(`up{agent="x",e=""} 1 1795132800000`))
	f.Add([]byte(`up{agent="x",check="c"} 1 1795132800000`))
	f.Add([]byte(`a.b{__x="1"} 1 1795132800000`))
	im := &importer{opts: Options{Tenant: "t", AgentLabel: "host"}}
	f.Fuzz(func(t *testing.T, line []byte) {
		var s sample
		if ok, err := parseText(line, &s); !ok || err != nil {
			return
		}
		want := map[string]string{"__name__": string(s.name)}
		for _, l := range s.labels {
			if len(l.value) > 0 {
				want[string(l.key)] = string(l.value)
			}
		}
		sr, err := im.define(string(s.name), func(yield func(k, v string)) {
			for _, l := range s.labels {
				yield(string(l.key), string(l.value))
			}
		})
		if err != nil {
			return
		}
		got := promapi.Labels(&sr).Map()
		if !maps.Equal(got, want) {
			t.Fatalf("%q: labels %v, want %v", line, got, want)
		}
		if got["agent"] != "" && got["check"] != "" {
			t.Fatalf("%q: taken with agent and check labels", line)
		}
		if sr.Check != promapi.ImportCheck || sr.ID != sr.SeriesKey.ID() || sr.Agent == "" {
			t.Fatalf("%q: series %+v", line, sr)
		}
	})
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
