// Command storegen writes deterministic, realistic agent data as Prometheus
// text with ms timestamps, for make bench-store: per host 60 series (CPU
// percents, memory gauges, mostly-constant filesystem sizes, counters, load
// averages, process and socket counts), one point every 30 s with 0-200 ms
// of timestamp jitter, in time order. 24 h of 1,000 hosts is 172.8 M points.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"time"
)

type kind int

const (
	percent kind = iota // 0-100, one decimal, mean-reverting noise
	memory              // bytes, random walk in pages
	fsSize              // bytes, constant with rare changes
	counter             // monotonic, rate with noise
	load                // two decimals, smooth
	count               // small integers
)

type def struct {
	name, check, labels string
	kind                kind
}

func catalog() []def {
	var ds []def
	for _, m := range []string{"user", "system", "iowait", "steal", "irq", "softirq", "idle", "nice", "guest", "usage"} {
		ds = append(ds, def{"cpu_" + m + "_percent", "cpu", "", percent})
	}
	for _, m := range []string{"used", "free", "available", "buffers", "cached", "shared", "slab", "swap_used", "swap_free", "dirty"} {
		ds = append(ds, def{"memory_" + m + "_bytes", "memory", "", memory})
	}
	for _, mnt := range []string{"/", "/var", "/home", "/boot", "/srv"} {
		ds = append(ds, def{"filesystem_size_bytes", "filesystem", `,mount="` + mnt + `"`, fsSize})
		ds = append(ds, def{"filesystem_used_bytes", "filesystem", `,mount="` + mnt + `"`, fsSize})
	}
	for _, dev := range []string{"eth0", "eth1", "lo"} {
		for _, m := range []string{"rx_bytes", "tx_bytes", "rx_packets"} {
			ds = append(ds, def{"network_" + m + "_total", "network", `,device="` + dev + `"`, counter})
		}
	}
	for _, dev := range []string{"sda", "sdb"} {
		for _, m := range []string{"reads", "writes", "read_bytes"} {
			ds = append(ds, def{"disk_" + m + "_total", "disk", `,device="` + dev + `"`, counter})
		}
	}
	for _, m := range []string{"context_switches", "interrupts", "forks", "page_faults", "major_faults"} {
		ds = append(ds, def{"system_" + m + "_total", "system", "", counter})
	}
	for _, m := range []string{"load1", "load5", "load15"} {
		ds = append(ds, def{"load_" + m, "load", "", load})
	}
	for _, m := range []string{"processes", "threads", "tcp_established", "tcp_time_wait", "open_files", "users", "zombies"} {
		ds = append(ds, def{"system_" + m, "system", "", count})
	}
	return ds // 60
}

type state struct{ v, rate float64 }

func main() {
	hosts := flag.Int("hosts", 100, "hosts (60 series each)")
	hours := flag.Float64("hours", 24, "hours of data")
	out := flag.String("o", "-", "output file")
	seed := flag.Uint64("seed", 1, "seed")
	flag.Parse()

	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			log.Fatal(err)
		}
		defer f.Close()
		w = bufio.NewWriterSize(f, 1<<20)
	}
	const interval = 30_000
	day := int64(24 * time.Hour / time.Millisecond)
	start := time.Now().UnixMilli()/day*day - 2*day // two days ago: closed days
	steps := int(*hours * 3600 * 1000 / interval)
	ds := catalog()
	r := rand.New(rand.NewPCG(*seed, 0))
	st := make([]state, *hosts*len(ds))
	keys := make([]string, len(st))
	for h := range *hosts {
		host := fmt.Sprintf("host-%04d.example.net", h)
		for i, d := range ds {
			s := &st[h*len(ds)+i]
			keys[h*len(ds)+i] = fmt.Sprintf(`%s{host="%s",check="%s"%s} `, d.name, host, d.check, d.labels)
			switch d.kind {
			case percent:
				s.v = r.Float64() * 60
			case memory:
				s.v = float64(r.IntN(1<<20)) * 4096
			case fsSize:
				s.v = float64(r.IntN(1<<24)) * 4096
			case counter:
				s.v, s.rate = float64(r.IntN(1<<30)), r.Float64()*1e5
			case load:
				s.v = r.Float64() * 4
			case count:
				s.v = float64(r.IntN(500))
			}
		}
	}
	var buf []byte
	for step := range steps {
		for i := range st {
			s, d := &st[i], ds[i%len(ds)]
			switch d.kind {
			case percent:
				s.v = math.Max(0, math.Min(100, s.v+r.NormFloat64()*1.5+(30-s.v)*0.02))
			case memory:
				s.v = math.Max(0, s.v+float64(int(r.NormFloat64()*64))*4096)
			case fsSize:
				if r.IntN(200) == 0 {
					s.v += float64(r.IntN(256)) * 4096
				}
			case counter:
				s.v += math.Round(s.rate * 30 * (1 + r.NormFloat64()*0.2))
				if s.v < 0 {
					s.v = 0
				}
			case load:
				s.v = math.Max(0, s.v+r.NormFloat64()*0.05)
			case count:
				s.v = math.Max(0, s.v+math.Round(r.NormFloat64()*2))
			}
			v := s.v
			switch d.kind {
			case percent:
				v = math.Round(v*10) / 10
			case load:
				v = math.Round(v*100) / 100
			}
			ts := start + int64(step)*interval + r.Int64N(201)
			buf = append(buf[:0], keys[i]...)
			buf = strconv.AppendFloat(buf, v, 'g', -1, 64)
			buf = append(buf, ' ')
			buf = strconv.AppendInt(buf, ts, 10)
			buf = append(buf, '\n')
			_, _ = w.Write(buf) // a bufio.Writer keeps its first error for Flush
		}
	}
	if err := w.Flush(); err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "storegen: %d hosts × %d series × %d points = %d points from %s\n",
		*hosts, len(ds), steps, *hosts*len(ds)*steps, time.UnixMilli(start).UTC().Format(time.RFC3339))
}
