package metrics_test

import (
	"bytes"
	"math"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/ingest"
	"github.com/vigilmon/vigil/collector/metrics"
)

// scrape returns GET /metrics of m.
func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// A rule on a labelled counter must find its series before the first
// event: every known label value is there at 0 from the start.
func TestKnownSeriesStartAtZero(t *testing.T) {
	body := scrape(t, metrics.New())
	for _, line := range []string{
		`vigil_collector_points_rejected_total{reason="series_limit"} 0`,
		`vigil_collector_points_rejected_total{reason="bad_metric"} 0`,
		`vigil_collector_batches_ingested_total{transport="quic"} 0`,
		`vigil_collector_points_ingested_total{transport="https"} 0`,
		`vigil_collector_hellos_refused_total{reason="unauthenticated"} 0`,
		`vigil_collector_batches_refused_total{reason="store_deadline",transport="https"} 0`,
		`vigil_collector_store_errors_total{op="write"} 0`,
		`vigil_collector_query_refused_total{reason="timeout"} 0`,
		`vigil_collector_ack_latency_seconds_count{transport="quic"} 0`,
	} {
		if !strings.Contains(body, "\n"+line+"\n") {
			t.Errorf("a fresh registry lacks %s", line)
		}
	}
}

// The metrics' list of point refusal reasons is ingest's.
func TestRejectReasonsAreIngests(t *testing.T) {
	for _, r := range ingest.ReasonNames {
		if !slices.Contains(metrics.RejectReasons, r) {
			t.Errorf("ingest refuses points for %q, which metrics.RejectReasons lacks: add it", r)
		}
	}
	if len(metrics.RejectReasons) != len(ingest.ReasonNames) {
		t.Errorf("metrics.RejectReasons %v, ingest.ReasonNames %v", metrics.RejectReasons, ingest.ReasonNames)
	}
}

// Histogram bounds are round numbers: 1, 2.5 or 5 times a power of ten.
func TestBucketsAreRound(t *testing.T) {
	m := metrics.New()
	m.Batch("quic", 1, time.Millisecond)
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, f := range fams {
		if !strings.HasPrefix(f.GetName(), "vigil_collector_") {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, b := range s.GetHistogram().GetBucket() {
				seen++
				ub := b.GetUpperBound()
				exp := math.Floor(math.Log10(ub))
				mant := ub / math.Pow(10, exp)
				if !slices.ContainsFunc([]float64{1, 2.5, 5}, func(x float64) bool { return math.Abs(mant-x) < 1e-9 }) {
					t.Errorf("%s: bucket bound %v is not 1, 2.5 or 5 times a power of ten", f.GetName(), ub)
				}
			}
		}
	}
	if seen == 0 {
		t.Fatal("no histogram buckets found")
	}
}

// promtool, Prometheus' own linter, accepts the exposition.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (Debian package prometheus: /usr/bin/promtool); skipping the lint of /metrics")
	}
	m := metrics.New()
	m.Batch("quic", 3, time.Millisecond)
	m.ShowTokenLookups()
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(scrape(t, m))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out.String())
	}
	if s := out.String(); s != "" {
		t.Logf("promtool: %s", s)
	}
}
