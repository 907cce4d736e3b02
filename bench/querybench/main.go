// Command querybench measures query latency through the collector's HTTP
// API on the embedded store (issue 6, `make bench-query`): median and p99
// of /v1/query for one series over 24 h of raw points and over 30 days
// (5-minute rollups), and of a PromQL rate() over 60 series for 6 h.
//
// The data: 60 agents each with a network rx_bytes counter every 30 s (the
// agent's default interval; --interval) with 0-200 ms of jitter for 24 h
// (then compressed into blocks, as the store does with closed days; with
// --recent as chunks and the head, as the live path leaves the last day), and
// one cpu usage_percent gauge with 24 h raw and 30 days of 5-minute and
// 1-hour rollups.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"time"

	"github.com/vigilmon/vigil/collector/api"
	"github.com/vigilmon/vigil/collector/auth"
	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/collector/store/pebble"
)

const (
	tenant = "bench"
	day    = 24 * 3600_000
)

var interval int64 // ms between an agent's points

func main() {
	runs := flag.Int("runs", 300, "measured runs per query (after 20 warm-up runs)")
	prof := flag.String("cpuprofile", "", "write a CPU profile of the measured runs to this file")
	every := flag.Duration("interval", 30*time.Second, "the agents' check interval")
	recent := flag.Bool("recent", false, "store the data as the live path has it: chunks of 30 minutes and the last 30 minutes in the head, instead of day blocks")
	flag.Parse()
	interval = every.Milliseconds()
	if interval < 1000 {
		log.Fatal("--interval must be at least 1s")
	}
	dir, err := os.MkdirTemp("", "vigil-querybench")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	st, err := pebble.Open(dir, pebble.Options{Logger: slog.New(slog.DiscardHandler), CompactInterval: -1})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	now := time.Now().Truncate(time.Hour)
	end := now.UnixMilli()
	if err := load(ctx, st, end, *recent); err != nil {
		log.Fatal(err)
	}
	tok, _, err := auth.Create(ctx, st, tenant, store.RoleRead, "")
	if err != nil {
		log.Fatal(err)
	}
	h := (&api.API{Store: st, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }}).Handler()

	secs := func(ms int64) string { return strconv.FormatInt(ms/1000, 10) }
	queries := []struct{ name, path string }{
		{fmt.Sprintf("/v1/query, 1 series, 24 h raw (%d points → 500)", day/interval),
			"/v1/query?agent=host-000&check=cpu&metric=usage_percent&from=-24h&resolution=raw"},
		{"/v1/query, 1 series, 30 days (5 m rollups, 8,640 windows → 500)",
			"/v1/query?agent=host-000&check=cpu&metric=usage_percent&from=-30d"},
		{fmt.Sprintf("PromQL rate(network_rx_bytes[5m]), 60 series × %d points, 6 h, step 60 s", 6*3600_000/interval),
			"/prometheus/api/v1/query_range?" + url.Values{"query": {"rate(network_rx_bytes[5m])"},
				"start": {secs(end - 6*3600_000)}, "end": {secs(end)}, "step": {"60"}}.Encode()},
	}
	if *prof != "" {
		f, err := os.Create(*prof)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Printf("%-70s %10s %10s\n", "query", "median", "p99")
	for _, q := range queries {
		med, p99, err := measure(h, tok, q.path, *runs)
		if err != nil {
			log.Fatalf("%s: %v", q.name, err)
		}
		fmt.Printf("%-70s %8.2f ms %7.2f ms\n", q.name, ms(med), ms(p99))
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func measure(h http.Handler, tok, path string, runs int) (med, p99 time.Duration, err error) {
	do := func() (time.Duration, error) {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(rec, req)
		d := time.Since(start)
		if rec.Code != 200 {
			return 0, fmt.Errorf("%d %.300s", rec.Code, rec.Body.String())
		}
		return d, nil
	}
	for range 20 {
		if _, err := do(); err != nil {
			return 0, 0, err
		}
	}
	ds := make([]time.Duration, runs)
	for i := range ds {
		if ds[i], err = do(); err != nil {
			return 0, 0, err
		}
	}
	slices.Sort(ds)
	return ds[len(ds)/2], ds[len(ds)*99/100], nil
}

// load writes the data set described in the package comment: agent by
// agent, or, with recent, as the live path stores it: each 30 minutes of
// all agents' points written, then the head flushed as chunks (the head's
// default age), the last 30 minutes left in the head.
func load(ctx context.Context, st *pebble.Store, end int64, recent bool) error {
	start := end - day
	var all []*store.WriteRequest
	for a := range 60 {
		agent := fmt.Sprintf("host-%03d", a)
		net := store.Series{SeriesKey: store.SeriesKey{Tenant: tenant, Agent: agent, Check: "network", Metric: "rx_bytes",
			Labels: []store.Label{{Key: "interface", Value: "eth0"}}}, Type: store.Counter, Unit: "bytes"}
		net.ID = net.SeriesKey.ID()
		cpu := store.Series{SeriesKey: store.SeriesKey{Tenant: tenant, Agent: agent, Check: "cpu", Metric: "usage_percent"}, Type: store.Gauge, Unit: "percent"}
		cpu.ID = cpu.SeriesKey.ID()
		w := &store.WriteRequest{Tenant: tenant, Series: []store.Series{net}}
		if a == 0 {
			w.Series = append(w.Series, cpu)
		}
		var counter float64
		for slot := start; slot < end; slot += interval {
			ts := slot + (slot/interval*7919+int64(a)*104729)%201 // jitter as agents have
			counter += float64(1000 + (ts/interval)%777)
			w.Points = append(w.Points, store.Point{Series: net.ID, TS: ts, Value: counter})
			if a == 0 {
				w.Points = append(w.Points, store.Point{Series: cpu.ID, TS: ts, Value: float64((ts / interval) % 100)})
			}
		}
		all = append(all, w)
		if a == 0 {
			for _, res := range []store.Resolution{store.Res5m, store.Res1h} {
				win := res.Window()
				var rs []store.Rollup
				for ts := end - 31*day; ts < end; ts += win {
					v := float64((ts / win) % 100)
					rs = append(rs, store.Rollup{Series: cpu.ID, TS: ts, Count: win / interval, Sum: v * float64(win/interval),
						Min: v - 1, Max: v + 1, First: v, Last: v})
				}
				if err := st.WriteRollups(ctx, res, rs); err != nil {
					return err
				}
			}
		}
	}
	if !recent {
		for _, w := range all {
			if err := st.Write(ctx, w); err != nil {
				return err
			}
		}
		// The closed day compressed, as the store does an hour after.
		if err := st.Flush(ctx); err != nil {
			return err
		}
		_, err := st.Compact(ctx, end+2*day)
		return err
	}
	const slice = 30 * 60_000
	for from := start; from < end; from += slice {
		var w store.WriteRequest
		w.Tenant = tenant
		for _, aw := range all {
			w.Series = append(w.Series, aw.Series...)
			for _, p := range aw.Points {
				if p.TS >= from && p.TS < from+slice {
					w.Points = append(w.Points, p)
				}
			}
		}
		if err := st.Write(ctx, &w); err != nil {
			return err
		}
		if from+slice < end {
			if err := st.Flush(ctx); err != nil {
				return err
			}
		}
	}
	_, err := st.Compact(ctx, end)
	return err
}
