package rules

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"
)

// memStore is a storage.Queryable over series held in memory, for the
// real PromQL engine: the collector's Pebble queryable is internal to
// promapi, and Prometheus' teststorage pulls in the TSDB's dependencies.
type memStore struct {
	mu     sync.Mutex
	series map[uint64]*promql.Series
}

func newMemStore() *memStore { return &memStore{series: map[uint64]*promql.Series{}} }

// add appends a sample at t to the series of the label pairs kv.
func (m *memStore) add(t time.Time, v float64, kv ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ls := labels.FromStrings(kv...)
	s, ok := m.series[ls.Hash()]
	if !ok {
		s = &promql.Series{Metric: ls}
		m.series[ls.Hash()] = s
	}
	s.Floats = append(s.Floats, promql.FPoint{T: t.UnixMilli(), F: v})
}

func (m *memStore) Querier(mint, maxt int64) (storage.Querier, error) {
	return &memQuerier{m: m, mint: mint, maxt: maxt}, nil
}

type memQuerier struct {
	m          *memStore
	mint, maxt int64
}

func (q *memQuerier) Select(_ context.Context, _ bool, _ *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	q.m.mu.Lock()
	defer q.m.mu.Unlock()
	var out []storage.Series
	var lsets []labels.Labels
	for _, s := range q.m.series {
		ok := true
		for _, mt := range ms {
			ok = ok && mt.Matches(s.Metric.Get(mt.Name))
		}
		if !ok {
			continue
		}
		c := promql.Series{Metric: s.Metric}
		for _, p := range s.Floats {
			if p.T >= q.mint && p.T <= q.maxt {
				c.Floats = append(c.Floats, p)
			}
		}
		out = append(out, promql.NewStorageSeries(c))
		lsets = append(lsets, s.Metric)
	}
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return labels.Compare(lsets[a], lsets[b]) })
	sorted := make([]storage.Series, len(out))
	for i, j := range idx {
		sorted[i] = out[j]
	}
	return &memSet{s: sorted, i: -1}
}

func (q *memQuerier) LabelValues(context.Context, string, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil
}

func (q *memQuerier) LabelNames(context.Context, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil
}

func (q *memQuerier) Close() error { return nil }

type memSet struct {
	s []storage.Series
	i int
}

func (s *memSet) Next() bool                        { s.i++; return s.i < len(s.s) }
func (s *memSet) At() storage.Series                { return s.s[s.i] }
func (s *memSet) Err() error                        { return nil }
func (s *memSet) Warnings() annotations.Annotations { return nil }

// newEngine is an engine set up as promapi sets up its own.
func newEngine(t testing.TB) *promql.Engine {
	t.Helper()
	return promql.NewEngine(promql.EngineOpts{
		MaxSamples:               1_000_000,
		Timeout:                  10 * time.Second,
		LookbackDelta:            5 * time.Minute,
		NoStepSubqueryIntervalFn: func(int64) int64 { return time.Minute.Milliseconds() },
	})
}

// counter is a Counter that remembers.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) RuleRefused(r string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[r]++
}

func (c *counter) get(r string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[r]
}
