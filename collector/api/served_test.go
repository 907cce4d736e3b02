package api

import (
	"context"
	"fmt"
	"testing"

	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/collector/store/storetest"
)

// The answer says what each point is: a raw point, a stored window, or
// an interval points were grouped into (and with which aggregation).
func TestQueryLabelsWhatWasServed(t *testing.T) {
	f := newQueryFixture(t)
	// A gauge every second for the last hour: 3600 points, more than the
	// default 500, so averaged over 8 s intervals.
	dense := storetest.NewSeries("acme", "db-1", "cpu", "usage_percent", store.Gauge, "percent")
	w := &store.WriteRequest{Tenant: "acme", Series: []store.Series{dense}}
	for ts := f.now - 3600_000; ts < f.now; ts += 1000 {
		w.Points = append(w.Points, store.Point{Series: dense.ID, TS: ts, Value: 1})
	}
	if err := f.store.Write(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		params                string
		resolution, read, agg string
	}{
		{"agent=db-1&from=-60m", "8s", "raw", "avg"},
		{"agent=db-1&from=-60m&agg=max", "8s", "raw", "max"},
		{"agent=db-1&from=-10m&points=1000", "raw", "raw", ""},
		{"agent=web-1&check=cpu&from=-10m", "raw", "raw", ""},
		{fmt.Sprintf("agent=web-1&check=cpu&resolution=5m&from=%d&to=%d", f.w5, f.w5+900_000), "5m", "5m", "avg"},
		{fmt.Sprintf("agent=web-1&check=cpu&resolution=5m&from=%d&to=%d&points=1", f.w5, f.w5+900_000), "15m", "5m", "avg"},
		{"agent=web-1&check=cpu&from=-19d&points=100", "275m", "5m", "avg"},
		{"agent=web-1&check=network&from=-10m&fn=rate&points=5", "2m", "raw", ""},
		{"agent=web-1&check=plugin.http&from=-10m&points=2", "5m", "raw", ""},
	} {
		a := f.query(t, f.read, tt.params)
		s := a.Series[0]
		if s.Resolution != tt.resolution || s.Read != tt.read || s.Agg != tt.agg {
			t.Errorf("%s: resolution %q read_resolution %q agg %q, want %q %q %q",
				tt.params, s.Resolution, s.Read, s.Agg, tt.resolution, tt.read, tt.agg)
		}
	}
}

// fn=rate has no rate for the first point (nothing before it to take
// the increase from): it is left out, not answered as 0, at every
// resolution and when grouped.
func TestQueryRateLeavesOutFirstPoint(t *testing.T) {
	f := newQueryFixture(t)
	// A counter that starts inside the range, rising 10 a second.
	c := storetest.NewSeries("acme", "db-1", "agent", "sent_batches", store.Counter, "")
	w := &store.WriteRequest{Tenant: "acme", Series: []store.Series{c}}
	first := f.now - 20*60_000 + 3000
	for ts := first; ts < f.now; ts += 10_000 {
		w.Points = append(w.Points, store.Point{Series: c.ID, TS: ts, Value: float64(ts-first) / 100})
	}
	if err := f.store.Write(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	for _, params := range []string{"from=-60m", "from=-10m", "from=-60m&points=10", "from=-19m&points=7"} {
		a := f.query(t, f.read, "agent=db-1&fn=rate&"+params)
		pts := a.Series[0].Points
		if len(pts) == 0 {
			t.Fatalf("%s: no rates", params)
		}
		if ts := int64(pts[0][0].(float64)); ts <= first {
			t.Errorf("%s: a rate at %d, the counter's first point (%d), which has none", params, ts, first)
		}
		for _, p := range pts {
			// Grouped intervals do not line up with the points: about 10.
			if v, ok := p[1].(float64); !ok || v < 9 || v > 11 {
				t.Errorf("%s: rate %v at %v, want about 10/s", params, p[1], p[0])
			}
		}
	}
	// 5m windows: the first window has no rate.
	ctx := context.Background()
	w5 := store.Floor(f.now-20*24*3600_000, 300_000)
	if err := f.store.WriteRollups(ctx, store.Res5m, []store.Rollup{
		{Series: c.ID, TS: w5, Count: 30, First: 0, Last: 2900, Increase: 2900, Min: 0, Max: 2900},
		{Series: c.ID, TS: w5 + 300_000, Count: 30, First: 3000, Last: 5900, Increase: 2900, Min: 3000, Max: 5900},
	}); err != nil {
		t.Fatal(err)
	}
	a := f.query(t, f.read, fmt.Sprintf("agent=db-1&fn=rate&resolution=5m&from=%d&to=%d", w5, w5+600_000))
	if pts := a.Series[0].Points; len(pts) != 1 || int64(pts[0][0].(float64)) != w5+300_000 || pts[0][1] != 10.0 {
		t.Errorf("5m rates: %v, want one: 10/s at the second window", pts)
	}
}

func TestFormatInterval(t *testing.T) {
	for ms, want := range map[int64]string{1000: "1s", 8000: "8s", 90_000: "90s", 600_000: "10m", 7_200_000: "2h",
		5_400_000: "90m", 86_400_000: "1d", 4_320_000_000: "50d", 1500: "1500ms"} {
		if got := formatInterval(ms); got != want {
			t.Errorf("formatInterval(%d) = %q, want %q", ms, got, want)
		}
	}
}
