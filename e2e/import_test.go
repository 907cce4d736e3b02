package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// exposition writes what node_exporter and an HTTP server would export,
// in Prometheus' text format as its own encoder writes it, with n samples
// per series 15 s apart ending at last (ms). Returns the file.
func exposition(t *testing.T, dir string, last int64, n int) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	load := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "node_load1", Help: "1m load average."}, []string{"instance", "job"})
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total", Help: "Requests."}, []string{"instance", "code", "method"})
	reg.MustRegister(load, reqs)
	load.WithLabelValues("a:9100", "node")
	reqs.WithLabelValues("a:8080", "200", "get")
	reqs.WithLabelValues("a:8080", "500", "get")
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for _, f := range fams {
		// One sample per step of each series, timestamped.
		var ms []*dto.Metric
		for i := range n {
			ts := last - int64(n-1-i)*15_000
			for j, m := range f.Metric {
				v := float64(i)*0.25 + float64(j) // load 0, 0.25, … ; counters rise by 0.25 a step
				c := &dto.Metric{Label: m.Label, TimestampMs: &ts}
				if m.Gauge != nil {
					c.Gauge = &dto.Gauge{Value: &v}
				} else {
					c.Counter = &dto.Counter{Value: &v}
				}
				ms = append(ms, c)
			}
		}
		f.Metric = ms
		if _, err := expfmt.MetricFamilyToText(&buf, f); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "export.prom")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestImportKeepsPrometheusNames imports real exposition with the
// binary, and PromQL on the collector answers under the original names and
// labels (before, node_load1 was node_node_load1); import fails when
// nothing or too much of a file was bad.
func TestImportKeepsPrometheusNames(t *testing.T) {
	e := setup(t, "2s")
	conf := filepath.Join(e.dir, "collector.toml")
	last := time.Now().Add(-time.Minute).Truncate(time.Second).UnixMilli()
	file := exposition(t, e.dir, last, 20)
	importCmd := func(args ...string) (string, int) {
		cmd := exec.Command(e.coll, append([]string{"import", "--config", conf, "--tenant", "dev"}, args...)...)
		out, err := cmd.CombinedOutput()
		code := 0
		if err != nil {
			if cmd.ProcessState == nil {
				t.Fatalf("import: %v", err)
			}
			code = cmd.ProcessState.ExitCode()
		}
		return string(out), code
	}
	if out, code := importCmd(file); code != 0 || !strings.Contains(out, "imported 60 points of 3 series") {
		t.Fatalf("import: exit %d\n%s", code, out)
	}

	// A scrape without timestamps imports nothing; a file with 1 good line
	// of 4 fails the default --max-bad and passes a generous one.
	scrape := filepath.Join(e.dir, "scrape.prom")
	writeFile(t, scrape, []byte("# TYPE up gauge\nup 1\nup{job=\"x\"} 1\n"), 0o644)
	if out, code := importCmd(scrape); code != 1 || !strings.Contains(out, "nothing imported") || !strings.Contains(out, "no timestamp") {
		t.Fatalf("import of a scrape: exit %d, want 1 saying nothing was imported\n%s", code, out)
	}
	mixed := filepath.Join(e.dir, "mixed.prom")
	writeFile(t, mixed, []byte(fmt.Sprintf("mixed_ok 1 %d\nbad.name 1 %d\nmixed 1\nmixed{agent=\"a\",check=\"c\"} 1 %d\n", last, last, last)), 0o644)
	if out, code := importCmd(mixed); code != 1 || !strings.Contains(out, "3 of 4 sample lines bad (75.0%), more than --max-bad 0.01") {
		t.Fatalf("import of a mostly bad file: exit %d, want 1 naming --max-bad\n%s", code, out)
	}
	if out, code := importCmd("--max-bad", "0.8", mixed); code != 0 {
		t.Fatalf("import with --max-bad 0.8: exit %d\n%s", code, out)
	}

	start(t, e.coll, "run", "--config", conf)
	read := e.token(t, "read-token")
	waitFor(t, 10*time.Second, "the collector to answer", func() bool {
		resp, err := http.Get("http://" + e.http + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	at := "@" + strconv.FormatFloat(float64(last)/1000, 'f', -1, 64)
	for expr, want := range map[string]string{
		`node_load1{instance="a:9100"} ` + at:                                         `map[map[__name__:node_load1 instance:a:9100 job:node]:4.75]`,
		`http_requests_total{code="500"} ` + at:                                       `map[map[__name__:http_requests_total code:500 instance:a:8080 method:get]:5.75]`,
		`round(60 * sum by (code) (rate(http_requests_total[1m] ` + at + `)), 0.001)`: `map[map[code:200]:1 map[code:500]:1]`,
		`count({__name__=~"node_node_load1|http_http_requests_total"})`:               `map[]`,
	} {
		if got := fmt.Sprint(promVector(t, e.http, read, expr)); got != want {
			t.Errorf("%s = %s, want %s", expr, got, want)
		}
	}

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed, its checks skipped (Debian: apt-get install prometheus; .ci/run installs it)")
	}
	if out, err := exec.Command("sh", "-c", promtool+" check metrics < "+file).CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics on the export: %v\n%s", err, out)
	}
	server := "http://vigil:" + read + "@" + e.http + "/prometheus"
	promtoolQuery := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(promtool, append([]string{"query"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("promtool query %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	ts := strconv.FormatFloat(float64(last)/1000, 'f', -1, 64)
	if out := promtoolQuery("instant", "--time", ts, server, "node_load1"); out != `node_load1{instance="a:9100", job="node"} => 4.75 @[`+ts+`]` {
		t.Errorf("promtool query instant node_load1: %s", out)
	}
	if out := promtoolQuery("series", "--match", "http_requests_total", "--start", strconv.FormatInt(last/1000-3600, 10), "--end", ts, server); out !=
		`{__name__="http_requests_total", code="200", instance="a:8080", method="get"}`+"\n"+`{__name__="http_requests_total", code="500", instance="a:8080", method="get"}` {
		t.Errorf("promtool query series: %s", out)
	}
}

// TestImportHelp: each flag of import -h states its default once (the
// old --check-label stated two).
func TestImportHelp(t *testing.T) {
	_, coll := binaries(t)
	out, _ := exec.Command(coll, "import", "-h").CombinedOutput()
	for _, want := range []string{"-max-bad float", "(default 0.01)", "-agent-label string", `(default "host")`, "keep their metric names and labels"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("import -h lacks %q:\n%s", want, out)
		}
	}
	// A flag's help is its line and the indented one after it.
	for _, help := range strings.Split(string(out), "\n  -") {
		if n := strings.Count(help, "default"); n > 1 {
			t.Errorf("a flag states %d defaults: %q", n, help)
		}
	}
}
