package metrics

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/store"
)

// TestREADMEListsMetrics holds the README's list of the collector's
// metrics to the registry: every vigil_collector_ metric is listed, and
// every listed one exists.
func TestREADMEListsMetrics(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	listed := make(map[string]bool)
	for _, m := range regexp.MustCompile("`(vigil_collector_[a-z_]+)").FindAllStringSubmatch(string(readme), -1) {
		listed[m[1]] = true
	}
	m := New()
	m.RollupLag(func(store.Resolution) (time.Duration, bool) { return 0, true })
	m.StoreHead(func() int { return 0 }, 1)
	m.StoreHealth(func() StoreHealth { return StoreHealth{} })
	m.ShowTokenLookups()
	m.ShowRules(func() RuleStats { return RuleStats{} })
	// Vectors only appear once they have a series.
	m.Batch("quic", 1, time.Millisecond)
	m.Rejected("bad_metric", 1)
	m.HelloRefused("no_hello")
	m.BatchRefused("quic", "oversized")
	m.storeQuery.WithLabelValues("points").Observe(0)
	m.storeErrors.WithLabelValues("points").Inc()
	m.httpRequests.WithLabelValues("GET /v1/query", "200").Inc()
	m.httpDuration.WithLabelValues("GET /v1/query").Observe(0)
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	served := make(map[string]bool)
	for _, f := range fams {
		if name := f.GetName(); strings.HasPrefix(name, "vigil_collector_") {
			served[name] = true
			if !listed[name] {
				t.Errorf("README does not list %s", name)
			}
		}
	}
	for name := range listed {
		if !served[name] {
			t.Errorf("README lists %s, which the collector does not serve", name)
		}
	}
}
