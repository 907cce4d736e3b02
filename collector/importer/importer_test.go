package importer

import (
	"bytes"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	os.WriteFile(filepath.Join(dir, "a.prom"), []byte(prom), 0o644)
	os.WriteFile(filepath.Join(dir, "b.json"), []byte(vm), 0o644)
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
		if s.Metric == "net_bytes_total" && (s.Check != "net" || s.Type != store.Counter || len(s.Labels) != 1) {
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
		parseText(line, &s)
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
