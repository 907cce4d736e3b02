package agent

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/vigilmon/vigil/agent/check"
	"github.com/vigilmon/vigil/agent/spool"
)

// The self-check's numeric series are the same ones whether the agent is
// connected or not and whichever collector it uses: when it moves, no
// series of the old collector is left reading 1 (sum(agent_connected)
// read 2 for one agent for the staleness window). The collector in use
// is a string.
func TestSelfCheckSeriesStableAcrossCollectors(t *testing.T) {
	sp, err := spool.Open(t.TempDir(), spool.Options{Sync: spool.SyncNever})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	s := &sender{}
	c := &selfCheck{sp: sp, s: s}
	var first []string
	for _, addr := range []string{"collector-a:4433", "", "collector-b:4433", "https://collector-c:8443"} {
		s.active.Store(addr)
		var r check.Result
		if err := c.Run(context.Background(), &r); err != nil {
			t.Fatal(err)
		}
		var keys []string
		connected, collector := -1.0, ""
		for _, m := range r.Metrics {
			if m.Type == check.String {
				if m.Name == "collector" {
					collector = m.Str
				}
				continue
			}
			keys = append(keys, fmt.Sprint(m.Name, m.Labels))
			if m.Name == "connected" {
				connected = m.Value
			}
		}
		slices.Sort(keys)
		if first == nil {
			first = keys
		} else if !slices.Equal(keys, first) {
			t.Errorf("connected to %q: numeric series %v, want the same as before %v", addr, keys, first)
		}
		want := 0.0
		if addr != "" {
			want = 1
		}
		if connected != want || collector != addr {
			t.Errorf("connected to %q: connected %v collector %q, want %v %q", addr, connected, collector, want, addr)
		}
	}
}
