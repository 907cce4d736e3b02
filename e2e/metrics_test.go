package e2e

import (
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestCollectorMetrics scrapes the running collector's own metrics without
// a token: its rollup job reports a lag per rollup resolution, near 0 once
// it has worked through its first backlog, and its embedded store the
// points in its head.
func TestCollectorMetrics(t *testing.T) {
	e := setup(t, "2s")
	start(t, e.coll, "run", "--config", filepath.Join(e.dir, "collector.toml"))
	lagRe := regexp.MustCompile(`(?m)^vigil_collector_rollup_lag_seconds\{resolution="(5m|1h)"\} (\S+)$`)
	headRe := regexp.MustCompile(`(?m)^vigil_collector_store_head_points \d+$`)
	var last string
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last /metrics answer:\n%s", last)
		}
	})
	waitFor(t, 20*time.Second, "rollup lag of 5m and 1h under a minute and the store's head in /metrics", func() bool {
		resp, err := http.Get("http://" + e.http + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		last = string(body)
		if resp.StatusCode != 200 {
			return false
		}
		caughtUp := 0
		for _, m := range lagRe.FindAllStringSubmatch(last, -1) {
			if v, err := strconv.ParseFloat(m[2], 64); err == nil && v < 60 {
				caughtUp++
			}
		}
		return caughtUp == 2 && headRe.MatchString(last)
	})
}
