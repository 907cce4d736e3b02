package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/vigilmon/vigil/collector/store"
)

// Store times the writes and reads of s. With a nil m it returns s.
func Store(s store.Store, m *Metrics) store.Store {
	if m == nil {
		return s
	}
	return &timed{Store: s, m: m}
}

type timed struct {
	store.Store
	m *Metrics
}

func (t *timed) read(op string, start time.Time, err error) {
	t.m.storeQuery.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.m.storeErrors.WithLabelValues(op).Inc()
	}
}

func (t *timed) Write(ctx context.Context, w *store.WriteRequest) error {
	start := time.Now()
	err := t.Store.Write(ctx, w)
	t.m.storeWrite.Observe(time.Since(start).Seconds())
	if err != nil {
		t.m.storeErrors.WithLabelValues("write").Inc()
	}
	return err
}

func (t *timed) Series(ctx context.Context, f store.SeriesFilter) ([]store.Series, error) {
	start := time.Now()
	out, err := t.Store.Series(ctx, f)
	t.read("series", start, err)
	return out, err
}

func (t *timed) Points(ctx context.Context, id store.SeriesID, from, to int64, limit int) ([]store.Point, error) {
	start := time.Now()
	out, err := t.Store.Points(ctx, id, from, to, limit)
	t.read("points", start, err)
	return out, err
}

func (t *timed) ReadRollups(ctx context.Context, res store.Resolution, id store.SeriesID, from, to int64, limit int) ([]store.Rollup, error) {
	start := time.Now()
	out, err := t.Store.ReadRollups(ctx, res, id, from, to, limit)
	t.read("rollups", start, err)
	return out, err
}

func (t *timed) LatestResults(ctx context.Context, tenant, agent string) ([]store.CheckResult, error) {
	start := time.Now()
	out, err := t.Store.LatestResults(ctx, tenant, agent)
	t.read("latest_results", start, err)
	return out, err
}

func (t *timed) History(ctx context.Context, tenant, agent, check string, from, to int64, limit int) ([]store.CheckResult, error) {
	start := time.Now()
	out, err := t.Store.History(ctx, tenant, agent, check, from, to, limit)
	t.read("history", start, err)
	return out, err
}

func (t *timed) TokenByHash(ctx context.Context, h store.TokenHash) (store.Token, error) {
	start := time.Now()
	out, err := t.Store.TokenByHash(ctx, h)
	t.read("token", start, err)
	return out, err
}
