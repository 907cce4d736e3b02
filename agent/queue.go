package agent

import (
	"context"
	"sync"

	"github.com/vigilmon/vigil/protocol"
)

// queue holds batches until a collector acks them. It is bounded: when
// full, the oldest batch not in flight is dropped and counted, so an outage
// never grows the agent's memory without limit.
type queue struct {
	mu      sync.Mutex
	max     int
	entries []*entry
	wake    chan struct{} // closed and replaced when a batch becomes sendable
	dropped uint64        // results dropped because the queue was full
}

type entry struct {
	b        *protocol.Batch
	inflight bool
}

func newQueue(max int) *queue {
	return &queue{max: max, wake: make(chan struct{})}
}

// push appends b and returns how many results it dropped to make room.
func (q *queue) push(b *protocol.Batch) (dropped int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.entries) >= q.max {
		i := 0
		for i < len(q.entries) && q.entries[i].inflight {
			i++
		}
		if i == len(q.entries) {
			break // everything is in flight; those are acked or released soon
		}
		dropped += len(q.entries[i].b.Results)
		q.entries = append(q.entries[:i], q.entries[i+1:]...)
	}
	q.dropped += uint64(dropped)
	q.entries = append(q.entries, &entry{b: b})
	q.signal()
	return dropped
}

func (q *queue) signal() {
	close(q.wake)
	q.wake = make(chan struct{})
}

// next waits for the oldest batch not in flight and marks it in flight.
func (q *queue) next(ctx context.Context) (*protocol.Batch, error) {
	for {
		q.mu.Lock()
		for _, e := range q.entries {
			if !e.inflight {
				e.inflight = true
				q.mu.Unlock()
				return e.b, nil
			}
		}
		wake := q.wake
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-wake:
		}
	}
}

// ack removes an acknowledged batch.
func (q *queue) ack(seq uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, e := range q.entries {
		if e.b.Seq == seq {
			q.entries = append(q.entries[:i], q.entries[i+1:]...)
			return
		}
	}
}

// release makes an unacknowledged batch sendable again.
func (q *queue) release(seq uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, e := range q.entries {
		if e.b.Seq == seq {
			e.inflight = false
			q.signal()
			return
		}
	}
}

func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.entries)
}
