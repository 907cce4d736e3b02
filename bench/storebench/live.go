package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/vigilmon/vigil/collector/store"
)

// capture is the store the import writes into for --live: it keeps the
// parsed points in memory, 20 bytes each, for replaying them as agents'
// batches.
type capture struct {
	series []store.Series
	index  map[store.SeriesID]int32
	points []capturedPoint
}

type capturedPoint struct {
	series int32
	ts     int64
	value  float64
}

func (c *capture) Write(_ context.Context, w *store.WriteRequest) error {
	for _, sr := range w.Series {
		if _, ok := c.index[sr.ID]; !ok {
			c.index[sr.ID] = int32(len(c.series))
			c.series = append(c.series, sr)
		}
	}
	for _, p := range w.Points {
		i, ok := c.index[p.Series]
		if !ok {
			return fmt.Errorf("point of undefined series %s", p.Series)
		}
		c.points = append(c.points, capturedPoint{i, p.TS, p.Value})
	}
	return nil
}

// request is one agent's batch: consecutive points of one agent (tsdbgen
// and storegen write time-major, an agent's checks of one interval
// together, each check with its own 0-200 ms of jitter) within a second of
// the first, as the agent sends the results of one slot.
type request struct{ start, end int }

// replay writes the captured points as the collector does: one synced
// Write per agent batch, carrying its series' definitions, from
// concurrent connections (an agent's batches in order on one of them).
func (c *capture) replay(ctx context.Context, st store.Store, tenant string, conns int) (requests int, err error) {
	queues := make([][]request, conns)
	agentConn := map[string]int{}
	for i := 0; i < len(c.points); {
		sr := &c.series[c.points[i].series]
		j := i + 1
		for j < len(c.points) && c.series[c.points[j].series].Agent == sr.Agent &&
			c.points[j].ts-c.points[i].ts < 1000 && c.points[i].ts-c.points[j].ts < 1000 {
			j++
		}
		conn, ok := agentConn[sr.Agent]
		if !ok {
			conn = len(agentConn) % conns
			agentConn[sr.Agent] = conn
		}
		queues[conn] = append(queues[conn], request{i, j})
		requests++
		i = j
	}
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for _, q := range queues {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var w store.WriteRequest
			w.Tenant = tenant
			for _, r := range q {
				w.Series, w.Points = w.Series[:0], w.Points[:0]
				for _, p := range c.points[r.start:r.end] {
					w.Series = append(w.Series, c.series[p.series])
					w.Points = append(w.Points, store.Point{Series: c.series[p.series].ID, TS: p.ts, Value: p.value})
				}
				if err := st.Write(ctx, &w); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return requests, <-errs
}
