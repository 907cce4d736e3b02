package store

import (
	"fmt"
	"math"
	"time"
)

// Resolution is the resolution of stored points: raw as written, or one of
// the rollups computed from them (DESIGN §6).
type Resolution uint8

const (
	Raw Resolution = iota
	Res5m
	Res1h
)

// NumResolutions is the number of resolutions; they are 0 to NumResolutions-1.
const NumResolutions = 3

// Resolutions lists every resolution, finest first.
var Resolutions = [NumResolutions]Resolution{Raw, Res5m, Res1h}

func (r Resolution) String() string {
	switch r {
	case Raw:
		return "raw"
	case Res5m:
		return "5m"
	case Res1h:
		return "1h"
	}
	return fmt.Sprintf("resolution(%d)", uint8(r))
}

// ParseResolution parses "raw", "5m" or "1h".
func ParseResolution(s string) (Resolution, error) {
	for _, r := range Resolutions {
		if r.String() == s {
			return r, nil
		}
	}
	return 0, fmt.Errorf("unknown resolution %q (want raw, 5m or 1h)", s)
}

// Valid reports whether r is one of Resolutions.
func (r Resolution) Valid() bool { return r < NumResolutions }

// Window is the width in ms of one window of a rollup resolution; 0 for Raw.
func (r Resolution) Window() int64 {
	switch r {
	case Res5m:
		return 5 * minuteMS
	case Res1h:
		return hourMS
	}
	return 0
}

// Source is the resolution a rollup window is computed from: raw points
// for Res5m, 5m windows for Res1h.
func (r Resolution) Source() Resolution {
	if r == Res1h {
		return Res5m
	}
	return Raw
}

// BucketWidth is the span in ms of one storage bucket of r: 1 day for raw
// points, 7 days for 5m windows, 30 days for 1h windows. Backends group a
// series' points by bucket (Cassandra: one partition per series and
// bucket), and retention drops whole buckets.
func (r Resolution) BucketWidth() int64 {
	switch r {
	case Res5m:
		return 7 * dayMS
	case Res1h:
		return 30 * dayMS
	}
	return dayMS
}

const (
	minuteMS = int64(time.Minute / time.Millisecond)
	hourMS   = 60 * minuteMS
	dayMS    = 24 * hourMS
)

// QueueSlot is the width of one slot of the rollup queue (see Queue).
const QueueSlot = minuteMS

// BucketOf is the bucket of width holding ts: floor(ts / width), also for
// negative ts.
func BucketOf(ts, width int64) int64 {
	q := ts / width
	if ts%width != 0 && ts < 0 {
		q--
	}
	return q
}

// BucketStart is the first ms of bucket b of width, clamped to the int64
// range.
func BucketStart(b, width int64) int64 {
	if b <= BucketOf(math.MinInt64, width) {
		return math.MinInt64
	}
	return b * width
}

// LastBucket reports whether b is the last bucket of width that int64
// timestamps reach: a loop over buckets must stop there, as b+1 would
// start past math.MaxInt64.
func LastBucket(b, width int64) bool { return b >= BucketOf(math.MaxInt64, width) }

// Floor is the start of the window of width holding ts, clamped to the
// int64 range.
func Floor(ts, width int64) int64 { return BucketStart(BucketOf(ts, width), width) }

// Retention is how long each resolution is kept, indexed by Resolution.
type Retention [NumResolutions]time.Duration

// DefaultRetention keeps raw points 7 days, 5m windows 35 days and 1h
// windows 400 days.
var DefaultRetention = Retention{7 * 24 * time.Hour, 35 * 24 * time.Hour, 400 * 24 * time.Hour}

// Rollup is one window of a rollup resolution: the statistics of the
// series' values with TS <= ts < TS + Window. NaN values are left out of
// every field but are not errors.
//
// First, Last and Increase serve rate queries on counters across resets:
// Increase is the sum of the rises between consecutive values within the
// window, where a fall counts as a reset to zero (the value after it is the
// rise), as Prometheus' increase() does.
type Rollup struct {
	Series SeriesID
	TS     int64 // window start, ms
	Count  int64
	Sum    float64
	Min    float64
	Max    float64
	First  float64
	Last   float64
	// Increase is the counter increase within the window (see above).
	Increase float64
}

// Window is one window of one series, as queued for computing.
type Window struct {
	Series SeriesID
	Start  int64 // ms, a multiple of the resolution's Window
}
