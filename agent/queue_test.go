package agent

import (
	"context"
	"testing"
	"time"

	"github.com/vigilmon/vigil/protocol"
)

func batch(seq uint64, results int) *protocol.Batch {
	return &protocol.Batch{Seq: seq, Results: make([]*protocol.CheckResult, results)}
}

func TestQueueDropsOldestWhenFull(t *testing.T) {
	q := newQueue(3)
	ctx := context.Background()
	q.push(batch(1, 2))
	q.push(batch(2, 2))
	q.push(batch(3, 2))
	b, _ := q.next(ctx) // 1 is in flight: it must not be dropped
	if b.Seq != 1 {
		t.Fatalf("next = %d, want 1", b.Seq)
	}
	if dropped := q.push(batch(4, 2)); dropped != 2 {
		t.Fatalf("dropped %d results, want the 2 of batch 2", dropped)
	}
	var seqs []uint64
	for _, e := range q.entries {
		seqs = append(seqs, e.b.Seq)
	}
	if len(seqs) != 3 || seqs[0] != 1 || seqs[1] != 3 || seqs[2] != 4 {
		t.Fatalf("queue holds %v, want [1 3 4]", seqs)
	}
	if q.dropped != 2 {
		t.Fatalf("dropped counter %d", q.dropped)
	}
}

func TestQueueReleaseAndAck(t *testing.T) {
	q := newQueue(10)
	ctx := context.Background()
	q.push(batch(1, 1))
	q.push(batch(2, 1))
	a, _ := q.next(ctx)
	b, _ := q.next(ctx)
	if a.Seq != 1 || b.Seq != 2 {
		t.Fatalf("next gave %d, %d", a.Seq, b.Seq)
	}
	q.release(1) // the send failed: 1 is sent again first
	again, _ := q.next(ctx)
	if again.Seq != 1 {
		t.Fatalf("after release, next = %d, want 1", again.Seq)
	}
	q.ack(1)
	q.ack(2)
	if q.len() != 0 {
		t.Fatalf("%d left after acking all", q.len())
	}
	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := q.next(tctx); err == nil {
		t.Fatal("next on an empty queue returned without waiting")
	}
	// A push wakes a waiting next.
	got := make(chan uint64)
	go func() {
		b, _ := q.next(ctx)
		got <- b.Seq
	}()
	time.Sleep(20 * time.Millisecond)
	q.push(batch(7, 1))
	select {
	case s := <-got:
		if s != 7 {
			t.Fatalf("woke with %d", s)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("push did not wake next")
	}
}
