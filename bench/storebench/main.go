// Command storebench measures the embedded store on a data file (make
// bench-store): it imports the file with collector/importer into a fresh
// Pebble store (straight into compressed chunks; --live: parsed into memory
// first, then written as the collector's live path writes, each agent's
// points of one timestamp in one synced Write from concurrent connections,
// then the head flushed and the closed days compressed), compacts the LSM
// and reports
// bytes per point on disk, ingest points per CPU-second, and the median
// latency of reading one series over 24 h raw and over 30 days of 1 h
// rollups.
package main

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"syscall"
	"time"

	"github.com/vigilmon/vigil/collector/importer"
	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/collector/store/pebble"
)

func cpu() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err) // only for a bad argument
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func dirSize(dir string) int64 {
	var n int64
	// The walk skips what it cannot read, so it never fails.
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

func sstSize(dir string) int64 {
	var n int64
	ms, _ := filepath.Glob(filepath.Join(dir, "store", "*.sst"))
	for _, m := range ms {
		if fi, err := os.Stat(m); err == nil {
			n += fi.Size()
		}
	}
	return n
}

func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}

func main() {
	dir := flag.String("dir", "", "store directory (default: a temporary one, removed after)")
	batch := flag.Int("batch", 5000, "points per write")
	queries := flag.Int("queries", 200, "queries per latency figure")
	buffer := flag.Int("buffer", 0, "points the import buffers before writing blocks (0: the importer's default)")
	live := flag.Bool("live", false, "write as the collector's live path does (one synced Write per agent and timestamp, from --conns connections) instead of importing into blocks; parsing is not counted")
	conns := flag.Int("conns", 32, "concurrent writers for --live")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the import to this file")
	flag.Parse()
	if flag.NArg() == 0 {
		log.Fatal("usage: storebench [--dir DIR] FILE...")
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "storebench")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	ctx := context.Background()
	st, err := pebble.Open(filepath.Join(*dir, "store"), pebble.Options{Logger: slog.New(slog.DiscardHandler), CompactInterval: -1})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()

	startProfile := func() {
		if *cpuprofile == "" {
			return
		}
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
	}
	var (
		sum                   importer.Summary
		importCPU, importWall time.Duration
		requests              int
	)
	if *live {
		c := &capture{index: map[store.SeriesID]int32{}}
		if sum, err = importer.Import(ctx, c, importer.Options{Tenant: "bench", Batch: *batch, Progress: os.Stderr, LogEvery: 30 * time.Second}, flag.Args()); err != nil {
			log.Fatal(err)
		}
		startProfile()
		c0, w0 := cpu(), time.Now()
		if requests, err = c.replay(ctx, st, "bench", *conns); err != nil {
			log.Fatal(err)
		}
		// The head's last points into chunks: part of the write path's cost.
		if err := st.Flush(ctx); err != nil {
			log.Fatal(err)
		}
		importCPU, importWall = cpu()-c0, time.Since(w0)
	} else {
		startProfile()
		c0, w0 := cpu(), time.Now()
		if sum, err = importer.Import(ctx, st, importer.Options{Tenant: "bench", Batch: *batch, Buffer: *buffer, Progress: os.Stderr, LogEvery: 30 * time.Second}, flag.Args()); err != nil {
			log.Fatal(err)
		}
		importCPU, importWall = cpu()-c0, time.Since(w0)
	}
	pprof.StopCPUProfile()
	fmt.Println(sum)
	rawSize := dirSize(*dir)

	c0, w0 := cpu(), time.Now()
	cs, err := st.Compact(ctx, time.Now().UnixMilli())
	if err != nil {
		log.Fatal(err)
	}
	compactCPU, compactWall := cpu()-c0, time.Since(w0)
	nblocks, blockPoints, blockBytes, err := st.BlockStats(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if err := st.Settle(ctx); err != nil {
		log.Fatal(err)
	}
	// Closing waits for Pebble to delete the files compaction made obsolete.
	if err := st.Close(); err != nil {
		log.Fatal(err)
	}
	size, sst := dirSize(*dir), sstSize(*dir)
	if st, err = pebble.Open(filepath.Join(*dir, "store"), pebble.Options{Logger: slog.New(slog.DiscardHandler), CompactInterval: -1}); err != nil {
		log.Fatal(err)
	}

	// Queries: one series over the 24 h of the data, raw.
	series, err := st.Series(ctx, store.SeriesFilter{Tenant: "bench"})
	if err != nil || len(series) == 0 {
		log.Fatalf("series: %d, %v", len(series), err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	first, _ := st.Points(ctx, series[0].ID, 0, 1<<62, 1)
	from := first[0].TS / 86_400_000 * 86_400_000
	var raw []time.Duration
	var n int
	for range *queries {
		id := series[r.IntN(len(series))].ID
		t := time.Now()
		ps, err := st.Points(ctx, id, from, from+86_400_000, 0)
		raw = append(raw, time.Since(t))
		if err != nil {
			log.Fatal(err)
		}
		n += len(ps)
	}

	// 30 days of 1 h rollups for up to 1,000 series, then one series over them.
	nr := min(len(series), 1000)
	for _, s := range series[:nr] {
		rs := make([]store.Rollup, 0, 720)
		for h := range int64(720) {
			ts := from + 86_400_000 - 30*86_400_000 + h*3_600_000
			rs = append(rs, store.Rollup{Series: s.ID, TS: ts, Count: 120, Sum: float64(h) * 120, Min: 0, Max: float64(h), First: 0, Last: float64(h)})
		}
		if err := st.WriteRollups(ctx, store.Res1h, rs); err != nil {
			log.Fatal(err)
		}
	}
	if err := st.Settle(ctx); err != nil {
		log.Fatal(err)
	}
	var roll []time.Duration
	for range *queries {
		id := series[r.IntN(nr)].ID
		t := time.Now()
		rs, err := st.ReadRollups(ctx, store.Res1h, id, from+86_400_000-30*86_400_000, from+86_400_000, 0)
		roll = append(roll, time.Since(t))
		if err != nil || len(rs) != 720 {
			log.Fatalf("rollups: %d, %v", len(rs), err)
		}
	}

	fmt.Printf("points %d, series %d, files %s\n", sum.Points, len(series), flag.Args())
	how := "parsing included; straight into chunks, requests of up to 1 M points, synced"
	if *live {
		how = fmt.Sprintf("parsing not included; live path: %d synced writes of %.0f points on average from %d connections, head flushed at the end",
			requests, float64(sum.Points)/float64(max(requests, 1)), *conns)
	}
	fmt.Printf("ingest: %.2f M points/s wall, %.2f M points per CPU-second (%.1f s CPU, %.1f s wall; %s)\n",
		float64(sum.Points)/importWall.Seconds()/1e6, float64(sum.Points)/importCPU.Seconds()/1e6, importCPU.Seconds(), importWall.Seconds(), how)
	fmt.Printf("compaction after import: %d series, %d points in %.1f s CPU (%.1f s wall)\n",
		cs.Series, cs.Points, compactCPU.Seconds(), compactWall.Seconds())
	fmt.Printf("blocks: %d holding %d points, %.2f bytes/point (values)\n",
		nblocks, blockPoints, float64(blockBytes)/float64(max(blockPoints, 1)))
	fmt.Printf("ingest incl. compression: %.2f M points per CPU-second\n", float64(sum.Points)/(importCPU+compactCPU).Seconds()/1e6)
	fmt.Printf("disk: %.1f MiB before compression; after: %.1f MiB of tables (%.2f bytes/point), %.1f MiB with WAL and manifest (%.2f bytes/point)\n",
		float64(rawSize)/(1<<20), float64(sst)/(1<<20), float64(sst)/float64(sum.Points), float64(size)/(1<<20), float64(size)/float64(sum.Points))
	fmt.Printf("query one series 24 h raw: median %s (%d points each)\n", median(raw), n / *queries)
	fmt.Printf("query one series 30 d of 1 h rollups: median %s (720 windows)\n", median(roll))
}
