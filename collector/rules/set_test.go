package rules

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
)

// LoadSet binds each tenant's globbed files to that tenant only; Run
// evaluates every group on its interval and Stats counts evaluations,
// failures and firing alerts.
func TestSetLoadsPerTenantAndRuns(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("a.yml", "groups:\n- name: ga\n  interval: 1s\n  rules:\n  - alert: Up\n    expr: up == 1\n")
	write("b.yml", "groups:\n- name: gb\n  interval: 1s\n  rules:\n  - alert: Broken\n    expr: broken\n")
	query := func(tenant string) QueryFunc {
		return func(_ context.Context, expr string, ts time.Time) (promql.Vector, error) {
			if expr == "broken" {
				return nil, errors.New("boom")
			}
			return promql.Vector{{Metric: labels.FromStrings("tenant", tenant), T: ts.UnixMilli(), F: 1}}, nil
		}
	}
	l := Limits{MinInterval: time.Second}
	set, err := LoadSet([]TenantFiles{
		{Tenant: "acme", Globs: []string{filepath.Join(dir, "*.yml"), filepath.Join(dir, "a.yml")}},
		{Tenant: "beta", Globs: []string{filepath.Join(dir, "a.yml")}},
	}, l, query, nil)
	if err != nil {
		t.Fatal(err)
	}
	names := func(tenant string) string {
		var out []string
		for _, g := range set.Groups(tenant) {
			out = append(out, g.Spec.Name)
		}
		return strings.Join(out, ",")
	}
	// a.yml twice for acme (glob and by name) is loaded once.
	if names("acme") != "ga,gb" || names("beta") != "ga" || names("other") != "" || set.Len() != 3 {
		t.Fatalf("acme %q, beta %q, other %q, len %d", names("acme"), names("beta"), names("other"), set.Len())
	}
	var nilSet *Set
	if nilSet.Groups("acme") != nil {
		t.Error("a nil Set has groups")
	}

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { set.Run(ctx, slog.New(slog.NewTextHandler(io.Discard, nil))); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for set.Stats().Evaluations < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("stats after 10 s: %+v", set.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	st := set.Stats()
	// Each tenant's Up alert fires at once (no for) and
	// carries its own tenant's series; Broken fails every time.
	if st.Failures == 0 || st.Failures >= st.Evaluations || st.Firing != 2 {
		t.Errorf("stats %+v", st)
	}
	for _, tenant := range []string{"acme", "beta"} {
		for _, a := range AlertsData(set.Groups(tenant)).Alerts {
			if a.Labels["tenant"] != tenant {
				t.Errorf("%s sees alert %v", tenant, a.Labels)
			}
		}
	}
}

func TestLoadSetRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yml")
	if err := os.WriteFile(bad, []byte("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up ==\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	q := func(string) QueryFunc { return nil }
	for _, tt := range []struct {
		globs []string
		want  []string
	}{
		{[]string{bad}, []string{"tenant acme", bad, `"g"`, `"A"`}},
		{[]string{"["}, []string{"tenant acme", `rule files "["`}},
	} {
		_, err := LoadSet([]TenantFiles{{Tenant: "acme", Globs: tt.globs}}, Limits{}, q, nil)
		for _, w := range tt.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %v, want one naming %s", tt.globs, err, w)
			}
		}
	}
}
