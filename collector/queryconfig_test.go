package collector

import (
	"strings"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/querylimit"
)

func TestQueryConfig(t *testing.T) {
	c, err := ParseConfig([]byte("name = \"c1\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Query.Limits(); got != querylimit.Defaults {
		t.Errorf("defaults: %+v, want %+v", got, querylimit.Defaults)
	}
	if querylimit.Defaults.Timeout >= httpWriteTimeout-maxQueryTimeoutMargin+time.Nanosecond {
		t.Errorf("default query timeout %v leaves no time to write before the HTTP write timeout", querylimit.Defaults.Timeout)
	}
	for _, tt := range []struct{ doc, err string }{
		{"max_length = 8", "query.max_length 8: want 16 to 1048576"},
		{"max_length = 2000000", "query.max_length 2000000"},
		{"max_depth = 1", "query.max_depth 1: want 2 to 1000"},
		{"max_depth = -5", "query.max_depth -5"},
		{"max_subquery_steps = 20000000", "query.max_subquery_steps"},
		{"max_samples = 10", "query.max_samples 10: want 1000 to 1000000000"},
		{"max_concurrent = 5000", "query.max_concurrent 5000"},
		{`timeout = "2m"`, "query.timeout 2m0s: want 1s to 50s"},
		{`timeout = "500ms"`, "query.timeout 500ms"},
		{`timeout = "5s"` + "\n" + `queue_wait = "10s"`, "query.queue_wait 10s: want 1ms to query.timeout (5s)"},
		{`queue_wait = "1h"`, "query.queue_wait 1h0m0s"},
		{"max_lenght = 5", `unknown key "query.max_lenght"`},
	} {
		_, err := ParseConfig([]byte("name = \"c1\"\n[query]\n" + tt.doc + "\n"))
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: error %v, want one containing %q", tt.doc, err, tt.err)
		}
	}
	c, err = ParseConfig([]byte("name = \"c1\"\n[query]\nmax_depth = 50\ntimeout = \"50s\"\nqueue_wait = \"1s\"\nmax_concurrent = 4\n"))
	if err != nil {
		t.Fatal(err)
	}
	if l := c.Query.Limits(); l.MaxDepth != 50 || l.Timeout != 50*time.Second || l.QueueWait != time.Second || l.MaxConcurrent != 4 || l.MaxSamples != 50_000_000 {
		t.Errorf("set: %+v", l)
	}
}
