package api

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/collector/store/storetest"
)

type queryAnswer struct {
	Series []struct {
		Agent, Check, Metric, Resolution string
		// Read is the stored resolution the points come from;
		// Resolution what each point stands for.
		Read   string `json:"read_resolution"`
		Agg    string
		Points [][2]any
	}
}

func (f *fixture) query(t *testing.T, tok, params string) queryAnswer {
	t.Helper()
	code, body := f.get(t, "/v1/query?"+params, bearerAuth(tok))
	if code != 200 {
		t.Fatalf("%s: %d %s", params, code, body)
	}
	var a queryAnswer
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatal(err)
	}
	return a
}

// vals returns the values of the only series, as float64 or nil.
func (a queryAnswer) vals(t *testing.T) []any {
	t.Helper()
	if len(a.Series) != 1 {
		t.Fatalf("%d series, want 1", len(a.Series))
	}
	var out []any
	for _, p := range a.Series[0].Points {
		out = append(out, p[1])
	}
	return out
}

func (a queryAnswer) times(t *testing.T) []int64 {
	var out []int64
	for _, p := range a.Series[0].Points {
		out = append(out, int64(p[0].(float64)))
	}
	return out
}

// queryFixture holds a gauge and a counter with raw points over the last
// 10 minutes, 5m windows over 20 days and 1h windows over 200 days.
type queryFixture struct {
	*fixture
	read             string
	gauge, counter   store.Series
	str              store.Series
	now, w5, w1      int64
	counterRawValues []float64
}

func newQueryFixture(t *testing.T) *queryFixture {
	f := &queryFixture{fixture: newFixture(t)}
	f.read = f.token(t, "acme", store.RoleRead)
	f.gauge = storetest.NewSeries("acme", "web-1", "cpu", "usage_percent", store.Gauge, "percent")
	f.counter = storetest.NewSeries("acme", "web-1", "network", "rx_bytes", store.Counter, "bytes", "interface", "eth0")
	f.str = storetest.NewSeries("acme", "web-1", "plugin.http", "status", store.String, "")
	f.now = f.fixture.now.UnixMilli()
	ctx := context.Background()
	w := &store.WriteRequest{Tenant: "acme", Series: []store.Series{f.gauge, f.counter, f.str}}
	// Raw: every 10 s for 10 minutes; the counter rises 100 a step and
	// resets to 0 at the 30th point.
	c := 0.0
	for i := 0; i < 60; i++ {
		ts := f.now - 600_000 + int64(i)*10_000
		if i == 30 {
			c = 0
		} else {
			c += 100
		}
		f.counterRawValues = append(f.counterRawValues, c)
		w.Points = append(w.Points,
			store.Point{Series: f.gauge.ID, TS: ts, Value: float64(i)},
			store.Point{Series: f.counter.ID, TS: ts, Value: c},
			store.Point{Series: f.str.ID, TS: ts, Str: fmt.Sprint("s", i)})
	}
	if err := f.store.Write(ctx, w); err != nil {
		t.Fatal(err)
	}
	// 5m windows: count 30, sum 30*v, min v-1, max v+1, last v.
	f.w5 = store.Floor(f.now-20*24*3600_000, 300_000)
	var r5 []store.Rollup
	for ts, v := f.w5, 0.0; ts < f.now; ts, v = ts+300_000, v+1 {
		r5 = append(r5, store.Rollup{Series: f.gauge.ID, TS: ts, Count: 30, Sum: 30 * v, Min: v - 1, Max: v + 1, First: v, Last: v})
	}
	f.w1 = store.Floor(f.now-200*24*3600_000, 3600_000)
	var r1 []store.Rollup
	for ts := f.w1; ts < f.now; ts += 3600_000 {
		r1 = append(r1, store.Rollup{Series: f.gauge.ID, TS: ts, Count: 360, Sum: 720, Min: 1, Max: 3, First: 2, Last: 2})
	}
	if err := f.store.WriteRollups(ctx, store.Res5m, r5); err != nil {
		t.Fatal(err)
	}
	if err := f.store.WriteRollups(ctx, store.Res1h, r1); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestQueryPicksResolution(t *testing.T) {
	f := newQueryFixture(t)
	for _, c := range []struct{ params, want string }{
		{"from=-5m", "raw"},
		{"from=-6d", "raw"},
		{"from=-8d", "5m"},
		{"from=-34d", "5m"},
		{"from=-36d", "1h"},
		{"from=-399d", "1h"},
		{"from=-1h&resolution=1h", "1h"},
		{"from=-30d&resolution=raw", "raw"},
	} {
		a := f.query(t, f.read, "agent=web-1&check=cpu&"+c.params)
		if a.Series[0].Read != c.want {
			t.Errorf("%s: read resolution %s, want %s", c.params, a.Series[0].Read, c.want)
		}
	}
	// A string series is always raw.
	a := f.query(t, f.read, "agent=web-1&check=plugin.http&from=-100d&points=2")
	if a.Series[0].Read != "raw" || len(a.Series[0].Points) > 2 {
		t.Errorf("string series: %+v", a.Series[0])
	}
	if v := a.vals(t); v[len(v)-1] != "s59" {
		t.Errorf("string series: last value %v, want the newest string", v[len(v)-1])
	}
}

func TestQueryAggregations(t *testing.T) {
	f := newQueryFixture(t)
	// Three 5m windows (v = 0, 1, 2) at resolution 5m: one point each.
	from, to := f.w5, f.w5+900_000
	base := fmt.Sprintf("agent=web-1&check=cpu&resolution=5m&from=%d&to=%d", from, to)
	for agg, want := range map[string][]any{
		"avg":   {0.0, 1.0, 2.0},
		"min":   {-1.0, 0.0, 1.0},
		"max":   {1.0, 2.0, 3.0},
		"sum":   {0.0, 30.0, 60.0},
		"count": {30.0, 30.0, 30.0},
		"last":  {0.0, 1.0, 2.0},
	} {
		a := f.query(t, f.read, base+"&agg="+agg)
		if got := a.vals(t); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("agg=%s: %v, want %v", agg, got, want)
		}
		if ts := a.times(t); ts[0] != from || ts[2] != from+600_000 {
			t.Errorf("agg=%s: times %v", agg, ts)
		}
	}
	// points=1 merges the three windows.
	for agg, want := range map[string]any{"avg": 1.0, "min": -1.0, "max": 3.0, "sum": 90.0, "count": 90.0, "last": 2.0} {
		a := f.query(t, f.read, base+"&points=1&agg="+agg)
		if got := a.vals(t); len(got) != 1 || got[0] != want {
			t.Errorf("points=1 agg=%s: %v, want [%v]", agg, got, want)
		}
	}
	// Default agg is avg; at most points= points over a long range.
	a := f.query(t, f.read, "agent=web-1&check=cpu&from=-19d&points=100")
	if n := len(a.Series[0].Points); n > 100 || n < 90 || a.Series[0].Read != "5m" {
		t.Errorf("19 days at points=100: %d points at %s", n, a.Series[0].Read)
	}
	a = f.query(t, f.read, "agent=web-1&check=cpu&from=-400d&points=11000")
	if n := len(a.Series[0].Points); n > 11000 || a.Series[0].Read != "1h" {
		t.Errorf("400 days: %d points at %s", n, a.Series[0].Read)
	}
	ts := a.times(t)
	for i := 1; i < len(ts); i++ {
		if ts[i] <= ts[i-1] || (ts[i]-ts[i-1])%3600_000 != 0 {
			t.Fatalf("1h points out of grid at %d: %d then %d", i, ts[i-1], ts[i])
		}
	}
}

func TestQueryRate(t *testing.T) {
	f := newQueryFixture(t)
	// Raw: 100 per 10 s = 10/s, and across the reset the rise to 0 is 0.
	a := f.query(t, f.read, "agent=web-1&check=network&metric=rx_bytes&from=-10m&fn=rate")
	got := a.vals(t)
	if len(got) != 59 {
		t.Fatalf("%d rates from 60 points, want 59", len(got))
	}
	for i, v := range got {
		want := 10.0
		if i == 29 { // the point at index 30 reset to 0
			want = 0
		}
		if v != want {
			t.Errorf("rate %d = %v, want %v", i, v, want)
		}
	}
	// Grouped into 2-minute intervals: still 10/s, the reset inside an
	// interval costing only its own step.
	a = f.query(t, f.read, "agent=web-1&check=network&metric=rx_bytes&from=-10m&fn=rate&points=5")
	got = a.vals(t)
	if len(got) != 4 {
		t.Fatalf("grouped rates: %v", got)
	}
	for i, v := range got {
		if x := v.(float64); x < 9 || x > 10 {
			t.Errorf("grouped rate %d = %v, want about 10/s", i, x)
		}
	}
	// Rate from 5m windows across a reset between two windows.
	ctx := context.Background()
	w := store.Floor(f.now-20*24*3600_000, 300_000)
	if err := f.store.WriteRollups(ctx, store.Res5m, []store.Rollup{
		{Series: f.counter.ID, TS: w, Count: 30, First: 0, Last: 2900, Increase: 2900, Min: 0, Max: 2900},
		{Series: f.counter.ID, TS: w + 300_000, Count: 30, First: 3000, Last: 5900, Increase: 2900, Min: 3000, Max: 5900},
		{Series: f.counter.ID, TS: w + 600_000, Count: 30, First: 50, Last: 2950, Increase: 2900, Min: 50, Max: 2950},
	}); err != nil {
		t.Fatal(err)
	}
	a = f.query(t, f.read, fmt.Sprintf("agent=web-1&check=network&resolution=5m&fn=rate&from=%d&to=%d", w, w+900_000))
	if got := a.vals(t); fmt.Sprint(got) != fmt.Sprint([]any{10.0, (50.0 + 2900) / 300}) {
		t.Errorf("5m rates across a reset: %v", got)
	}
}

func TestQueryErrors(t *testing.T) {
	f := newQueryFixture(t)
	for _, c := range []struct{ params, want string }{
		{"agg=median", `agg \"median\"`},
		{"fn=irate", `fn \"irate\"`},
		{"fn=rate&agg=max", "agg:"},
		{"check=cpu&fn=rate", "fn=rate: web-1/cpu/usage_percent is a gauge"},
		{"resolution=1m", `resolution \"1m\"`},
		{"points=11001", "points"},
		{"points=x", "points"},
		{"from=-500d", "at most"},
		{"to=garbage", "to:"},
		{"from=0&to=0", "must be before"},
		{"label=x", `label \"x\"`},
	} {
		code, body := f.get(t, "/v1/query?"+c.params, bearerAuth(f.read))
		if code != 400 || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s; want 400 naming %s", c.params, code, body, c.want)
		}
	}
}

func TestQueryNaN(t *testing.T) {
	f := newFixture(t)
	read := f.token(t, "acme", store.RoleRead)
	s := storetest.NewSeries("acme", "w", "plugin.x", "v", store.Gauge, "")
	now := f.now.UnixMilli()
	if err := f.store.Write(context.Background(), &store.WriteRequest{Tenant: "acme", Series: []store.Series{s},
		Points: []store.Point{{Series: s.ID, TS: now - 2000, Value: math.NaN()}, {Series: s.ID, TS: now - 1000, Value: math.Inf(1)}}}); err != nil {
		t.Fatal(err)
	}
	code, body := f.get(t, "/v1/query?agent=w&from=-1m", bearerAuth(read))
	if code != 200 || !strings.Contains(body, fmt.Sprintf("[[%d,null],[%d,null]]", now-2000, now-1000)) {
		t.Errorf("NaN and Inf: %d %s; want null values", code, body)
	}
}

func TestPickResolutionRetention(t *testing.T) {
	a := &API{Retention: store.Retention{time.Hour, 2 * time.Hour, 3 * time.Hour}}
	now := int64(10_000_000_000)
	for _, c := range []struct {
		ago  time.Duration
		want store.Resolution
	}{{time.Minute, store.Raw}, {time.Hour, store.Raw}, {90 * time.Minute, store.Res5m}, {150 * time.Minute, store.Res1h}, {10 * time.Hour, store.Res1h}} {
		if got := a.pickResolution(now-c.ago.Milliseconds(), now); got != c.want {
			t.Errorf("from %v ago: %s, want %s", c.ago, got, c.want)
		}
	}
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"from=-1h&to=now&points=5", "from=2024-01-01T00:00:00Z&resolution=5m&agg=max",
		"from=-7d&fn=rate", "from=1700000000000&to=+5m", "label=a:b&label=c:", "from=-1.5d&points=0"} {
		f.Add(s)
	}
	a := &API{Now: func() time.Time { return time.UnixMilli(1_800_000_000_000) }}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		p, err := a.parseQuery(q, store.Token{Tenant: "t"})
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if p.from >= p.to || p.to-p.from > maxRange.Milliseconds() || p.points < 1 || p.points > maxPoints || !p.res.Valid() || aggs[p.agg] == nil {
			t.Fatalf("%q parsed to %+v", raw, p)
		}
	})
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"", "now", "-1h", "+5m", "-7d", "-1.5d", "1700000000000", "2024-01-01T00:00:00Z", "-", "-d", "-99999d"} {
		f.Add(s)
	}
	now := time.UnixMilli(1_800_000_000_000)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseTime(s, now, now)
		if err == nil && s == "" && !got.Equal(now) {
			t.Fatalf("empty time is not the default")
		}
	})
}
