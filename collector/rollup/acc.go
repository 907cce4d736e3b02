// Package rollup computes the 5m and 1h windows of DESIGN §6 from finer
// data and applies retention.
//
// Tracker wraps the store the ingest writes to: after each successful
// Write it queues the 5m windows the batch touched (store.Queue), in the
// queue slot of the minute the window falls due (its end plus Grace), or of
// the current minute for a late point. Job, owned by collector.Run, takes
// the slots that are due in order, recomputes each queued window from the
// finer data (5m from raw points, 1h from 5m windows), upserts it, queues
// the 1h window of every 5m window it computed, and clears the slot; it
// keeps its place in a cursor in the store, and Lag says how long the
// oldest work it has not done yet has been due. A window is always computed
// whole from what the store holds, so computing it twice, late, or on two
// collectors at once writes the same row.
package rollup

import (
	"math"

	"github.com/vigilmon/vigil/collector/store"
)

// Acc accumulates values, or finer windows, into one window. The zero
// value is empty. Values must be added in time order.
type Acc struct {
	R   store.Rollup
	has bool
}

// Empty reports whether nothing has been added.
func (a *Acc) Empty() bool { return !a.has }

// rise is the counter increase from prev to cur: a fall is a reset to
// zero, after which the counter rose to cur.
func rise(prev, cur float64) float64 {
	if cur >= prev {
		return cur - prev
	}
	return cur
}

// AddValue adds one value; NaN is left out.
func (a *Acc) AddValue(v float64) {
	if math.IsNaN(v) {
		return
	}
	r := &a.R
	if !a.has {
		a.has = true
		r.Count, r.Sum, r.Min, r.Max, r.First, r.Last, r.Increase = 1, v, v, v, v, v, 0
		return
	}
	r.Increase += rise(r.Last, v)
	r.Last = v
	r.Count++
	r.Sum += v
	r.Min = min(r.Min, v)
	r.Max = max(r.Max, v)
}

// AddRollup adds a finer window that follows everything added so far.
func (a *Acc) AddRollup(w store.Rollup) {
	if w.Count <= 0 {
		return
	}
	r := &a.R
	if !a.has {
		a.has = true
		r.Count, r.Sum, r.Min, r.Max, r.First, r.Last, r.Increase = w.Count, w.Sum, w.Min, w.Max, w.First, w.Last, w.Increase
		return
	}
	r.Increase += rise(r.Last, w.First) + w.Increase
	r.Last = w.Last
	r.Count += w.Count
	r.Sum += w.Sum
	r.Min = min(r.Min, w.Min)
	r.Max = max(r.Max, w.Max)
}

// FromPoints is the window of id starting at start computed from raw
// points in time order (string points are skipped); ok is false when no
// value counted.
func FromPoints(id store.SeriesID, start int64, ps []store.Point) (r store.Rollup, ok bool) {
	var a Acc
	for i := range ps {
		if ps[i].Str == "" {
			a.AddValue(ps[i].Value)
		}
	}
	a.R.Series, a.R.TS = id, start
	return a.R, a.has
}

// FromRollups is the window of id starting at start computed from finer
// windows in time order.
func FromRollups(id store.SeriesID, start int64, rs []store.Rollup) (r store.Rollup, ok bool) {
	var a Acc
	for i := range rs {
		a.AddRollup(rs[i])
	}
	a.R.Series, a.R.TS = id, start
	return a.R, a.has
}
