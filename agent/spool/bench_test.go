package spool

import (
	"context"
	"testing"

	"github.com/vigilmon/vigil/protocol"
)

// benchResults is about what an agent sends per second: 10 check results
// of 7 metrics each.
func benchResults() []*protocol.CheckResult { return results(1, 10, 7) }

func BenchmarkAppend(b *testing.B) {
	rs := benchResults()
	for _, p := range []SyncPolicy{SyncAlways, SyncInterval, SyncNever} {
		b.Run(string(p), func(b *testing.B) {
			s, err := Open(b.TempDir(), Options{Sync: p})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := s.Append(rs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "batches/s")
			b.ReportMetric(float64(s.Stats().Bytes)/float64(max(1, s.Stats().Batches)), "bytes/batch")
		})
	}
}

// BenchmarkReplay measures sending a backlog: Next and Ack over 10,000
// spooled batches, as after an outage.
func BenchmarkReplay(b *testing.B) {
	const backlog = 10_000
	rs := benchResults()
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	fill := func() {
		for range backlog {
			if _, _, err := s.Append(rs); err != nil {
				b.Fatal(err)
			}
		}
	}
	fill()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i > 0 && i%backlog == 0 {
			b.StopTimer()
			fill()
			b.StartTimer()
		}
		batch, err := s.Next(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Ack(batch.Seq); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "batches/s")
}

// BenchmarkOpen measures recovery of a spool of 10,000 batches (~28 MB).
func BenchmarkOpen(b *testing.B) {
	dir := b.TempDir()
	s, err := Open(dir, Options{Sync: SyncNever})
	if err != nil {
		b.Fatal(err)
	}
	rs := benchResults()
	for range 10_000 {
		if _, _, err := s.Append(rs); err != nil {
			b.Fatal(err)
		}
	}
	s.Close()
	b.ReportAllocs()
	for b.Loop() {
		s, err := Open(dir, Options{Sync: SyncNever})
		if err != nil {
			b.Fatal(err)
		}
		if s.Stats().Batches != 10_000 {
			b.Fatal("batches lost")
		}
		s.Close()
	}
}
