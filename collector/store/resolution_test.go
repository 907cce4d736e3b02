package store

import (
	"math"
	"testing"
)

func TestBucketOf(t *testing.T) {
	for _, c := range []struct{ ts, width, want int64 }{
		{0, dayMS, 0}, {1, dayMS, 0}, {dayMS - 1, dayMS, 0}, {dayMS, dayMS, 1},
		{-1, dayMS, -1}, {-dayMS, dayMS, -1}, {-dayMS - 1, dayMS, -2},
	} {
		if got := BucketOf(c.ts, c.width); got != c.want {
			t.Errorf("BucketOf(%d, %d) = %d, want %d", c.ts, c.width, got, c.want)
		}
	}
	for _, res := range Resolutions {
		w := res.BucketWidth()
		if BucketStart(BucketOf(math.MinInt64, w), w) != math.MinInt64 {
			t.Errorf("%s: first bucket does not start at MinInt64", res)
		}
		if !LastBucket(BucketOf(math.MaxInt64, w), w) || LastBucket(BucketOf(math.MaxInt64, w)-1, w) {
			t.Errorf("%s: LastBucket wrong", res)
		}
		for _, ts := range []int64{math.MinInt64, -w - 1, -1, 0, 1, w, math.MaxInt64} {
			f := Floor(ts, w)
			if f > ts || ts-f >= w && f != math.MinInt64 || BucketOf(f, w) != BucketOf(ts, w) {
				t.Errorf("%s: Floor(%d) = %d", res, ts, f)
			}
		}
	}
}
