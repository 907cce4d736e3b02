package pebble

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/collector/store/storetest"
)

// chunkWriting writes every request with WriteChunks, so the contract
// suite runs against points written straight into chunks.
type chunkWriting struct{ *Store }

func (b chunkWriting) Write(ctx context.Context, w *store.WriteRequest) error {
	return b.WriteChunks(ctx, w)
}

func TestContractWriteChunks(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return chunkWriting{openTest(t, t.TempDir())} })
}

// TestWriteChunksMerge writes one series with Write, compacts part of
// it, then writes overlapping points with WriteChunks in shuffled order:
// the result is the union, the latest write winning, and writing the same
// request again changes nothing.
func TestWriteChunksMerge(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t)
	r := rand.New(rand.NewPCG(3, 4))
	for _, str := range []bool{false, true} {
		typ := store.Gauge
		if str {
			typ = store.String
		}
		sr := storetest.NewSeries("acme", "a", "c", "m", typ, "")
		if str {
			sr = storetest.NewSeries("acme", "a", "c", "s", typ, "")
		}
		all := randPoints(r, sr.ID, 3000, str)
		want := map[int64]store.Point{}
		write := func(pts []store.Point, blocks bool) {
			t.Helper()
			w := &store.WriteRequest{Tenant: "acme", Series: []store.Series{sr}, Points: pts}
			var err error
			if blocks {
				err = s.WriteChunks(ctx, w)
			} else if err = s.Write(ctx, w); err == nil {
				// Points in the head stay newer than WriteChunks'.
				err = s.Flush(ctx)
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range pts {
				want[p.TS] = p
			}
		}
		write(all[:1000], false)
		if _, err := s.Compact(ctx, math.MaxInt64); err != nil {
			t.Fatal(err)
		}
		write(all[800:1500], false)
		upd := append([]store.Point(nil), all[1200:3000]...)
		for i := range upd {
			if str {
				upd[i].Str = "new"
			} else {
				upd[i].Value = float64(i)
			}
		}
		r.Shuffle(len(upd), func(i, j int) { upd[i], upd[j] = upd[j], upd[i] })
		dup := upd[0]
		if str {
			dup.Str = "dup"
		} else {
			dup.Value = -1
		}
		upd = append(upd, dup) // later in the request: wins
		for range 2 {
			write(upd, true)
			got, err := s.Points(ctx, sr.ID, math.MinInt64, math.MaxInt64, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("str %v: %d points, want %d", str, len(got), len(want))
			}
			for i, p := range got {
				if i > 0 && p.TS <= got[i-1].TS {
					t.Fatalf("out of order at %d", i)
				}
				if w := want[p.TS]; !sameBits([]store.Point{p}, []store.Point{w}) {
					t.Fatalf("str %v: at %d got %+v, want %+v", str, p.TS, p, w)
				}
			}
		}
		if _, err := s.Compact(ctx, math.MaxInt64); err != nil {
			t.Fatal(err)
		}
		got, err := s.Points(ctx, sr.ID, math.MinInt64, math.MaxInt64, 0)
		if err != nil || len(got) != len(want) {
			t.Fatalf("after compaction: %d points, want %d (%v)", len(got), len(want), err)
		}
		for _, p := range got {
			if w := want[p.TS]; !sameBits([]store.Point{p}, []store.Point{w}) {
				t.Fatalf("after compaction: at %d got %+v, want %+v", p.TS, p, w)
			}
		}
	}
}

// TestBlockRadixRoundTrip: timestamps with jitter spread evenly over
// ranges of every size are radix-packed (block version 2) where that is
// smaller, and every block round-trips bit for bit.
func TestBlockRadixRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	var e blockEncoder
	radix := 0
	for _, jitter := range []int64{1, 2, 3, 7, 201, 255, 256, 1000, 4095, 4096, 5000} {
		for _, n := range []int{2, 63, 64, 65, 66, 67, 100, 2880} {
			pts := make([]store.Point, n)
			for i := range pts {
				pts[i] = store.Point{TS: base + int64(i)*30_000 + r.Int64N(jitter), Value: float64(r.IntN(1000)) / 10}
			}
			blk := e.encode(nil, pts, false)
			if blk[0] == blockVersion2 {
				radix++
			}
			got, _, err := decodeBlock(nil, store.SeriesID{}, blk, nil)
			if err != nil || !sameBits(got, pts) {
				t.Fatalf("jitter %d, %d points: %v", jitter, n, err)
			}
			// Truncated or extended blocks fail cleanly.
			for _, bad := range [][]byte{blk[:len(blk)-1], append(blk[:len(blk):len(blk)], 0), blk[:3]} {
				if _, _, err := decodeBlock(nil, store.SeriesID{}, bad, nil); err == nil {
					t.Fatalf("jitter %d, %d points: a %d-byte block of a %d-byte one decoded", jitter, n, len(bad), len(blk))
				}
			}
		}
	}
	if radix == 0 {
		t.Error("no block was radix-packed")
	}
	for base := uint64(2); base <= maxRadix; base++ {
		if k, nb := radixGroup(base); k < 1 || nb < 1 || nb > 63 {
			t.Fatalf("radixGroup(%d) = %d, %d", base, k, nb)
		}
	}
}
