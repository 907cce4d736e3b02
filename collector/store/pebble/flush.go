package pebble

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	pebbledb "github.com/cockroachdb/pebble/v2"

	"github.com/vigilmon/vigil/collector/store"
)

// flushLoop flushes when Write says the head is full and when the oldest
// record reaches the head's age.
func (s *Store) flushLoop(ctx context.Context) {
	h := &s.head
	defer close(h.done)
	t := time.NewTicker(min(max(h.age/4, time.Second), time.Minute))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.kick:
		case <-t.C:
			h.mu.RLock()
			due := len(h.seqs) > 0 && time.Since(h.since) >= h.age
			h.mu.RUnlock()
			if !due {
				continue
			}
		}
		if err := s.Flush(ctx); err != nil && ctx.Err() == nil && !errors.Is(err, ErrClosed) &&
			!errors.Is(err, store.ErrReadOnly) { // health logged the refusal's state
			h.log.Error("flush head: its points stay in memory and in the write-ahead records, retried later", "err", err)
		}
	}
}

// Flush writes the head's points to disk as chunks and deletes the
// write-ahead records they came from. The flush loop calls it; Close does
// too, so that a restart has little to replay.
func (s *Store) Flush(ctx context.Context) error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	return s.flush(ctx)
}

func (s *Store) flush(ctx context.Context) error {
	h := &s.head
	h.flushMu.Lock()
	defer h.flushMu.Unlock()
	h.mu.Lock()
	if len(h.seqs) == 0 {
		h.mu.Unlock()
		return nil
	}
	part := &headPart{series: make(map[store.SeriesID][]headPoint, len(h.series)), points: h.points, seqs: h.seqs, since: h.since}
	forgetAll := len(h.series) > h.maxSeries
	forgot := false
	for id, hs := range h.series {
		if len(hs.pts) > 0 {
			part.series[id] = hs.pts
			hs.pts = nil
		}
		if forgetAll || !hs.used {
			delete(h.series, id)
			forgot = true
		}
		hs.used = false
	}
	if forgot {
		h.gen++
	}
	h.points, h.seqs, h.flushing = 0, nil, part
	h.mu.Unlock()

	start := time.Now()
	err := s.writeChunks(ctx, part)
	h.mu.Lock()
	h.flushing = nil
	if err != nil {
		// Back into the head, under what came since (newer wins).
		for id, pts := range part.series {
			hs := h.entry(id)
			newer := hs.pts
			hs.pts = pts
			for _, p := range newer {
				hs.add(p.ts, p.v)
			}
			h.points += len(hs.pts) - len(newer)
		}
		h.seqs = append(part.seqs, h.seqs...)
		h.since = part.since // due again: the loop retries within a minute
	}
	h.mu.Unlock()
	if err != nil {
		return fmt.Errorf("pebble: flush head of %d points: %w", part.points, err)
	}
	h.log.Debug("flushed head", "points", part.points, "series", len(part.series),
		"records", len(part.seqs), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// writeChunks writes part's chunks in batches, then, in a last synced batch,
// their dirty marks, the deletion of part's records and the sequence
// number's high mark; flushMu must be held.
func (s *Store) writeChunks(ctx context.Context, part *headPart) error {
	// A fresh number: these chunks are newer than every chunk on disk,
	// WriteChunks' included, as the head's points were.
	seq := s.head.seq.Add(1)
	ids := make([]store.SeriesID, 0, len(part.series))
	for id := range part.series {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b store.SeriesID) int { return bytes.Compare(a[:], b[:]) })

	width := Raw.BucketWidth()
	var (
		c       chunkWriter
		pts     []store.Point
		buckets = map[int64]struct{}{}
		batch   = s.db.NewBatch()
	)
	defer func() { batch.Close() }()
	for _, id := range ids {
		all := part.series[id]
		for len(all) > 0 {
			b := store.BucketOf(all[0].ts, width)
			n := 1
			for n < len(all) && store.BucketOf(all[n].ts, width) == b {
				n++
			}
			pts = pts[:0]
			for _, p := range all[:n] {
				pts = append(pts, store.Point{Series: id, TS: p.ts, Value: p.v})
			}
			all = all[n:]
			buckets[b] = struct{}{}
			if err := c.add(batch, b, pts, false, seq); err != nil {
				return err
			}
		}
		if batch.Len() >= flushBatchBytes {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := s.commit(batch, pebbledb.NoSync); err != nil {
				return err
			}
			batch.Close()
			batch = s.db.NewBatch()
		}
	}
	for _, q := range part.seqs {
		if err := batch.Delete(walKey(q), nil); err != nil {
			return err
		}
	}
	if err := s.finishChunks(batch, buckets); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// Pebble's log is sequential: syncing this batch makes the earlier
	// ones durable too.
	return s.commit(batch, pebbledb.Sync)
}

// chunkWriter adds chunks to batches, reusing its buffers.
type chunkWriter struct {
	enc blockEncoder
	key []byte
	val []byte
}

// add writes pts (one series, bucket b, strictly increasing timestamps)
// as a chunk with sequence number seq; strings, and the last bucket that
// compaction leaves alone, as point keys.
func (c *chunkWriter) add(batch *pebbledb.Batch, b int64, pts []store.Point, str bool, seq uint64) error {
	if str || store.LastBucket(b, Raw.BucketWidth()) {
		for i := range pts {
			if err := setPoint(batch, &pts[i], str); err != nil {
				return err
			}
		}
		return nil
	}
	if c.key == nil {
		c.key = make([]byte, chunkKeyLen)
		c.enc.noZstd = true
	}
	putChunkKey(c.key, b, pts[0].Series, pts[len(pts)-1].TS, seq)
	c.val = append(c.val[:0], make([]byte, 8)...)
	putInt64(c.val, pts[0].TS)
	c.val = c.enc.encode(c.val, pts, false)
	return batch.Set(c.key, c.val, nil)
}

// finishChunks adds the buckets' dirty marks, for compaction, and the
// sequence number's high mark; flushMu must be held.
func (s *Store) finishChunks(batch *pebbledb.Batch, buckets map[int64]struct{}) error {
	for b := range buckets {
		if err := batch.Set(dirtyKey(b), nil, nil); err != nil {
			return err
		}
	}
	var sv [8]byte
	binary.BigEndian.PutUint64(sv[:], s.head.seq.Load())
	return batch.Set(walSeqKey, sv[:], nil)
}
