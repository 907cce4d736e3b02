package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/vigilmon/vigil/protocol"
)

// logBuffer collects log output; the syncer may log from its goroutine.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// results builds n check results of m metrics each, tagged with id so
// batches can be told apart.
func results(id, n, m int) []*protocol.CheckResult {
	rs := make([]*protocol.CheckResult, n)
	for i := range rs {
		r := &protocol.CheckResult{
			Check:       fmt.Sprintf("check-%d", i),
			TimestampMs: int64(1_700_000_000_000 + id*1000),
			Status:      protocol.Status_STATUS_OK,
			Message:     fmt.Sprintf("batch %d", id),
			DurationMs:  3,
		}
		for j := range m {
			r.Metrics = append(r.Metrics, &protocol.Metric{
				Name:   fmt.Sprintf("metric_%d_bytes", j),
				Type:   protocol.MetricType_METRIC_TYPE_GAUGE,
				Value:  float64(id*100 + j),
				Labels: []*protocol.Label{{Key: "device", Value: "sda"}},
			})
		}
		rs[i] = r
	}
	return rs
}

func openT(t testing.TB, dir string, opts Options) *Spool {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func appendT(t testing.TB, s *Spool, rs []*protocol.CheckResult) uint64 {
	t.Helper()
	seq, _, err := s.Append(rs)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return seq
}

func nextT(t testing.TB, s *Spool) *protocol.Batch {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, err := s.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return b
}

// sendable takes every batch Next has to give without waiting and returns
// their seqs; they are left in flight.
func sendable(t testing.TB, s *Spool) []uint64 {
	t.Helper()
	st := s.Stats()
	seqs := []uint64{}
	for range st.Batches - st.InFlight {
		seqs = append(seqs, nextT(t, s).Seq)
	}
	return seqs
}

// diskBytes sums the sizes of the spool's segment and done-log files.
func diskBytes(t testing.TB, dir string) (total int64, segs int) {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		ext := filepath.Ext(de.Name())
		if ext != ".seg" && ext != ".ack" {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			t.Fatal(err)
		}
		total += fi.Size()
		if ext == ".seg" {
			segs++
		}
	}
	return total, segs
}

func segFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(m)
	return m
}

// crash abandons s as kill -9 would: what was written stays in the files,
// nothing more is synced or written, and the lock is released.
func crash(s *Spool) {
	s.mu.Lock()
	s.closed = true
	close(s.stop)
	s.mu.Unlock()
	s.wg.Wait()
	_ = s.closeFiles() // only the bytes on disk count after a crash
	s.lock.Close()
}

func TestRoundTrip(t *testing.T) {
	for _, p := range []SyncPolicy{SyncAlways, SyncInterval, SyncNever} {
		t.Run(string(p), func(t *testing.T) {
			s := openT(t, t.TempDir(), Options{Sync: p})
			var sent [][]*protocol.CheckResult
			for i := range 5 {
				rs := results(i, 3, 4)
				sent = append(sent, rs)
				if seq := appendT(t, s, rs); seq != uint64(i+1) {
					t.Fatalf("seq %d, want %d", seq, i+1)
				}
			}
			for i := range 5 {
				b := nextT(t, s)
				want := &protocol.Batch{Seq: uint64(i + 1), Results: sent[i]}
				if !proto.Equal(b, want) {
					t.Fatalf("batch %d differs:\ngot  %v\nwant %v", i+1, b, want)
				}
				if err := s.Ack(b.Seq); err != nil {
					t.Fatal(err)
				}
			}
			st := s.Stats()
			if st.Batches != 0 || st.InFlight != 0 || st.Appended != 5 || st.Acked != 5 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

func TestReleaseAndOutOfOrderAcks(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{})
	for i := range 12 {
		appendT(t, s, results(i, 1, 1))
	}
	var inflight []uint64
	for range 8 {
		inflight = append(inflight, nextT(t, s).Seq)
	}
	if !slices.Equal(inflight, []uint64{1, 2, 3, 4, 5, 6, 7, 8}) {
		t.Fatalf("next gave %v", inflight)
	}
	for _, seq := range []uint64{3, 1, 8, 2, 7} {
		if err := s.Ack(seq); err != nil {
			t.Fatalf("Ack(%d): %v", seq, err)
		}
	}
	s.Release(5)
	s.Release(4)
	s.Release(4) // twice is harmless
	s.Release(3) // acked: ignored
	s.Release(99)
	// Released batches go first, oldest first, then the rest.
	if got := sendable(t, s); !slices.Equal(got, []uint64{4, 5, 9, 10, 11, 12}) {
		t.Fatalf("after release, next gave %v", got)
	}
	if err := s.Ack(3); !errors.Is(err, ErrUnknownSeq) {
		t.Fatalf("second ack of 3: %v, want ErrUnknownSeq", err)
	}
	if err := s.Ack(1000); !errors.Is(err, ErrUnknownSeq) {
		t.Fatalf("ack of unknown seq: %v, want ErrUnknownSeq", err)
	}
	// A pending (not in flight) batch may be acked too.
	s.Release(10)
	if err := s.Ack(10); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Batches != 6 || st.InFlight != 6 {
		t.Fatalf("stats %+v, want 6 batches (4 5 6 9 11 12), all in flight", st)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// In-flight batches were never acked: they come back after a restart.
	s = openT(t, dir, Options{})
	if got := sendable(t, s); !slices.Equal(got, []uint64{4, 5, 6, 9, 11, 12}) {
		t.Fatalf("after reopen, next gave %v", got)
	}
}

func TestSegmentsRotateAndFinishedOnesAreDeleted(t *testing.T) {
	dir := t.TempDir()
	opts := Options{MaxBytes: 1 << 20, SegmentBytes: 2 << 10}
	s := openT(t, dir, opts)
	for i := range 40 {
		appendT(t, s, results(i, 2, 3)) // ~400 bytes: ~5 per segment
	}
	if n := len(segFiles(t, dir)); n < 6 {
		t.Fatalf("%d segment files, want rotation to have made several", n)
	}
	got := sendable(t, s)
	// Ack in a scrambled order, as 8 in flight can come back.
	order := slices.Clone(got)
	for i := 0; i+7 < len(order); i += 8 {
		slices.Reverse(order[i : i+8])
	}
	for i, seq := range order {
		if err := s.Ack(seq); err != nil {
			t.Fatal(err)
		}
		if i == len(order)/2 {
			// Segments whose records are all acked are gone already.
			_, segs := diskBytes(t, dir)
			if segs >= 6 || segs != s.Stats().Segments {
				t.Fatalf("half acked: %d segment files, stats say %d", segs, s.Stats().Segments)
			}
		}
	}
	// The active segment, past reclaimBytes and fully acked, goes too.
	if f := segFiles(t, dir); len(f) != 0 {
		t.Fatalf("segments left: %v", f)
	}
	total, _ := diskBytes(t, dir)
	if st := s.Stats(); st.Bytes != total || st.Batches != 0 {
		t.Fatalf("stats %+v, files hold %d bytes", st, total)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, dir, opts)
	if total, segs := diskBytes(t, dir); total != 0 || segs != 0 {
		t.Fatalf("after reopen of a fully acked spool: %d bytes in %d segments", total, segs)
	}
	if seq := appendT(t, s, results(0, 1, 1)); seq != 41 {
		t.Fatalf("seq after reopen %d, want 41", seq)
	}
}

func TestRestartResendsOnlyUnacked(t *testing.T) {
	for _, p := range []SyncPolicy{SyncAlways, SyncInterval, SyncNever} {
		t.Run(string(p), func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{Sync: p, MaxBytes: 1 << 20, SegmentBytes: 1 << 10}
			s := openT(t, dir, opts)
			for i := range 10 {
				appendT(t, s, results(i, 1, 2))
			}
			sendable(t, s)
			for _, seq := range []uint64{1, 2, 3, 5, 8} {
				if err := s.Ack(seq); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}

			s = openT(t, dir, opts)
			if got := sendable(t, s); !slices.Equal(got, []uint64{4, 6, 7, 9, 10}) {
				t.Fatalf("after restart, next gave %v", got)
			}
			if seq := appendT(t, s, results(10, 1, 1)); seq != 11 {
				t.Fatalf("seq after restart %d, want 11", seq)
			}
			if err := s.Ack(6); err != nil {
				t.Fatal(err)
			}
			s.Close()

			// And once more, with a batch appended in between.
			s = openT(t, dir, opts)
			if got := sendable(t, s); !slices.Equal(got, []uint64{4, 7, 9, 10, 11}) {
				t.Fatalf("after second restart, next gave %v", got)
			}
			if seq := appendT(t, s, results(11, 1, 1)); seq != 12 {
				t.Fatalf("seq after second restart %d, want 12", seq)
			}
		})
	}
}

func TestSeqSurvivesAnEmptySpool(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{})
	for i := range 3 {
		appendT(t, s, results(i, 1, 1))
	}
	for _, seq := range sendable(t, s) {
		ackT(t, s, seq)
	}
	s.Close()
	s = openT(t, dir, Options{})
	if seq := appendT(t, s, results(0, 1, 1)); seq != 4 {
		t.Fatalf("seq %d after reopening an empty spool, want 4", seq)
	}
	s.Close()

	// Without a clean Close, seqs jump past the lease rather than repeat.
	os.Remove(filepath.Join(dir, leaseName))
	s = openT(t, dir, Options{})
	if seq := appendT(t, s, results(0, 1, 1)); seq != 5 {
		t.Fatalf("seq %d without a lease, want 5 from the segment", seq)
	}
	crash(s)
	s2 := openT(t, dir, Options{})
	if seq := appendT(t, s2, results(0, 1, 1)); seq <= 5 || seq > 6+leaseStep {
		t.Fatalf("seq %d after a crash, want in (5, %d]", seq, 6+leaseStep)
	}
}

// In a synctest bubble, synctest.Wait returns once the goroutine calling
// Next is blocked in it, so each wake-up below is of a Next truly waiting.
func TestNextWaitsAndWakes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := openT(t, t.TempDir(), Options{})
		begin := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		if _, err := s.Next(ctx); !errors.Is(err, context.DeadlineExceeded) || time.Since(begin) != 30*time.Millisecond {
			t.Fatalf("Next on an empty spool: %v after %v", err, time.Since(begin))
		}
		got := make(chan uint64)
		go func() {
			b, err := s.Next(context.Background())
			if err != nil {
				t.Error(err)
			}
			got <- b.GetSeq()
		}()
		synctest.Wait()
		appendT(t, s, results(0, 1, 1))
		if seq := <-got; seq != 1 {
			t.Fatalf("woke with %d", seq)
		}
		// Release wakes a waiting Next too.
		go func() {
			b, err := s.Next(context.Background())
			if err != nil {
				t.Error(err)
			}
			got <- b.GetSeq()
		}()
		synctest.Wait()
		s.Release(1)
		if seq := <-got; seq != 1 {
			t.Fatalf("woke with %d", seq)
		}
		// Close wakes it with ErrClosed.
		errc := make(chan error)
		go func() {
			_, err := s.Next(context.Background())
			errc <- err
		}()
		synctest.Wait()
		s.Close()
		if err := <-errc; !errors.Is(err, ErrClosed) {
			t.Fatalf("Next after Close: %v", err)
		}
		if _, _, err := s.Append(results(0, 1, 1)); !errors.Is(err, ErrClosed) {
			t.Fatalf("Append after Close: %v", err)
		}
		if err := s.Ack(1); !errors.Is(err, ErrClosed) {
			t.Fatalf("Ack after Close: %v", err)
		}
		s.Release(1)
		s.Stats()
	})
}

func TestLimitDropsOldest(t *testing.T) {
	cases := []struct {
		name   string
		pinned int // batches taken by Next at the start and never acked
	}{
		{"nothing in flight", 0},
		{"oldest in flight", 1},
		{"eight in flight", 8},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var logs logBuffer
			opts := Options{MaxBytes: 16 << 10, SegmentBytes: 4 << 10, Logger: logs.logger()}
			s := openT(t, dir, opts)
			points := map[uint64]int{}
			for i := range 8 {
				points[appendT(t, s, results(i, 1, 1+i%5))] = 1 + i%5
			}
			pinned := map[uint64]bool{}
			for range tc.pinned {
				pinned[nextT(t, s).Seq] = true
			}
			var droppedPoints, lastSeq uint64
			for i := 8; i < 400; i++ {
				seq, dropped, err := s.Append(results(i, 1, 1+i%5))
				if err != nil {
					t.Fatal(err)
				}
				points[seq] = 1 + i%5
				droppedPoints += uint64(dropped)
				lastSeq = seq
				total, _ := diskBytes(t, dir)
				if total > opts.MaxBytes {
					t.Fatalf("after append %d: %d bytes on disk, limit %d", seq, total, opts.MaxBytes)
				}
				if st := s.Stats(); st.Bytes != total {
					t.Fatalf("Stats.Bytes %d, files hold %d", st.Bytes, total)
				}
			}
			st := s.Stats()
			if st.DroppedPoints != droppedPoints || st.DroppedPoints == 0 {
				t.Fatalf("Stats.DroppedPoints %d, Append reported %d", st.DroppedPoints, droppedPoints)
			}
			left := sendable(t, s)
			if left[len(left)-1] != lastSeq {
				t.Fatalf("newest batch %d is not kept: %v", lastSeq, left)
			}
			// What is left is the newest batches, in order, with nothing
			// missing between them.
			for i := 1; i < len(left); i++ {
				if left[i] != left[i-1]+1 {
					t.Fatalf("gap in kept batches: %v", left)
				}
			}
			kept := map[uint64]bool{}
			for _, seq := range left {
				kept[seq] = true
			}
			for seq := range pinned {
				if kept[seq] {
					t.Fatalf("in-flight batch %d was handed out again", seq)
				}
				if err := s.Ack(seq); err != nil {
					t.Fatalf("in-flight batch %d was dropped: %v", seq, err)
				}
			}
			var want uint64
			for seq, p := range points {
				if !kept[seq] && !pinned[seq] {
					want += uint64(p)
				}
			}
			if st.DroppedPoints != want {
				t.Fatalf("DroppedPoints %d, the dropped batches held %d", st.DroppedPoints, want)
			}
			if st.DroppedBatches != uint64(len(points)-len(left)-len(pinned)) {
				t.Fatalf("DroppedBatches %d, want %d", st.DroppedBatches, len(points)-len(left)-len(pinned))
			}
			if !strings.Contains(logs.String(), "spool full: dropped the oldest batches") {
				t.Fatalf("no warning logged:\n%s", logs.String())
			}
			// Dropped batches stay dropped after a restart.
			for _, seq := range left {
				s.Release(seq)
			}
			s.Close()
			s = openT(t, dir, opts)
			if got := sendable(t, s); !slices.Equal(got, left) {
				t.Fatalf("after restart: %v, want %v", got, left)
			}
		})
	}
}

func TestLimitExceededOnlyByInflight(t *testing.T) {
	dir := t.TempDir()
	opts := Options{MaxBytes: 4 << 10, SegmentBytes: 1 << 10}
	s := openT(t, dir, opts)
	rs := results(0, 1, 8) // ~450 bytes
	for range 20 {
		appendT(t, s, rs)
		nextT(t, s) // everything in flight: nothing can be dropped
	}
	if st := s.Stats(); st.DroppedBatches != 0 || st.Batches != 20 {
		t.Fatalf("stats %+v: in-flight batches must not be dropped", st)
	}
	for seq := uint64(1); seq <= 20; seq++ {
		s.Release(seq)
	}
	// The next Append catches up.
	appendT(t, s, rs)
	if total, _ := diskBytes(t, dir); total > opts.MaxBytes {
		t.Fatalf("%d bytes on disk after release, limit %d", total, opts.MaxBytes)
	}
}

func TestTooLarge(t *testing.T) {
	s := openT(t, t.TempDir(), Options{MaxBytes: 8 << 10, SegmentBytes: 2 << 10})
	_, _, err := s.Append([]*protocol.CheckResult{{Check: "x", Message: strings.Repeat("m", 9<<10)}})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Append of a batch over MaxBytes: %v", err)
	}
	// A batch bigger than a segment but within the limit gets a segment to
	// itself.
	seq := appendT(t, s, []*protocol.CheckResult{{Check: "x", Message: strings.Repeat("m", 3<<10)}})
	if b := nextT(t, s); b.Seq != seq || len(b.Results[0].Message) != 3<<10 {
		t.Fatalf("big batch came back as seq %d", b.Seq)
	}
	// Nil results are stored as empty ones, as protobuf does on the wire.
	seq = appendT(t, s, make([]*protocol.CheckResult, 2))
	if b := nextT(t, s); b.Seq != seq || len(b.Results) != 2 {
		t.Fatalf("batch of nil results came back as %v", b)
	}
}

func TestLocked(t *testing.T) {
	if !lockSupported {
		t.Skip("no directory lock on this platform")
	}
	dir := t.TempDir()
	s := openT(t, dir, Options{})
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	s.Close()
	s2, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	s2.Close()
}

func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want SyncPolicy
		ok   bool
	}{
		{"always", SyncAlways, true},
		{"interval", SyncInterval, true},
		{" Never ", SyncNever, true},
		{"", "", false},
		{"sometimes", "", false},
	} {
		got, err := ParseSyncPolicy(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("ParseSyncPolicy(%q) = %q, %v", tc.in, got, err)
		}
		if err != nil && !strings.Contains(err.Error(), "use always, interval or never") {
			t.Errorf("error %q does not say what is allowed", err)
		}
		var p SyncPolicy
		if err := p.UnmarshalText([]byte(tc.in)); p != tc.want || (err == nil) != tc.ok {
			t.Errorf("UnmarshalText(%q) = %q, %v", tc.in, p, err)
		}
	}

	o, err := Options{}.withDefaults()
	if err != nil || o.MaxBytes != DefaultMaxBytes || o.SegmentBytes != DefaultSegmentBytes ||
		o.Sync != SyncInterval || o.SyncInterval != time.Second || o.Logger == nil {
		t.Fatalf("defaults: %+v, %v", o, err)
	}
	if o, err := (Options{MaxBytes: 8 << 20}).withDefaults(); err != nil || o.SegmentBytes != 2<<20 {
		t.Fatalf("segment default for a small spool: %d, %v", o.SegmentBytes, err)
	}
	for _, bad := range []Options{
		{MaxBytes: -1},
		{MaxBytes: 2 << 10},
		{SegmentBytes: -1},
		{SegmentBytes: 100},
		{MaxBytes: 1 << 20, SegmentBytes: 512 << 10},
		{Sync: "weekly"},
		{SyncInterval: -time.Second},
	} {
		if _, err := Open(t.TempDir(), bad); err == nil {
			t.Errorf("Open with %+v: no error", bad)
		}
	}
}

func TestIntervalSyncsInBackground(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := openT(t, t.TempDir(), Options{SyncInterval: 5 * time.Millisecond})
		appendT(t, s, results(0, 1, 1))
		b := nextT(t, s)
		ackT(t, s, b.Seq)
		time.Sleep(5 * time.Millisecond)
		synctest.Wait()
		if dirty(s) {
			t.Fatal("background sync did not run")
		}
		if st := s.Stats(); st.SyncErrors != 0 {
			t.Fatalf("sync errors: %d", st.SyncErrors)
		}
	})
}

// dirty reports whether anything written waits for a commit.
func dirty(s *Spool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dirDirty
	for _, seg := range s.segs {
		d = d || seg.dirty || seg.ackDirty
	}
	return d
}

func TestIntervalCommitsAtLastAck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The commit timer fires only when the test lets an hour pass on
		// the bubble's clock: until then, only the Ack that leaves nothing
		// unacked can commit.
		s := openT(t, t.TempDir(), Options{SyncInterval: time.Hour})
		appendT(t, s, results(0, 1, 1))
		appendT(t, s, results(1, 1, 1))
		b1, b2 := nextT(t, s), nextT(t, s)
		if err := s.Ack(b1.Seq); err != nil {
			t.Fatal(err)
		}
		if !dirty(s) {
			t.Fatal("committed while a batch was still unacked")
		}
		if err := s.Ack(b2.Seq); err != nil {
			t.Fatal(err)
		}
		if dirty(s) {
			t.Fatal("the last ack did not commit")
		}
		// The next commit waits for the timer: the last one is under an hour old.
		appendT(t, s, results(2, 1, 1))
		if err := s.Ack(nextT(t, s).Seq); err != nil {
			t.Fatal(err)
		}
		if !dirty(s) {
			t.Fatal("committed twice within the sync interval")
		}
		s.mu.Lock()
		armed := s.commitArmed
		s.mu.Unlock()
		if !armed {
			t.Fatal("uncommitted writes without an armed commit timer")
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if dirty(s) {
			t.Fatal("the armed commit timer did not commit within the sync interval")
		}
	})
}

// Unacked batches are committed by the timer, one sync interval after the
// first write it has not committed, and not before.
func TestIntervalCommitTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := openT(t, t.TempDir(), Options{})
		appendT(t, s, results(0, 1, 1))
		nextT(t, s) // in flight, never acked
		time.Sleep(DefaultSyncInterval - time.Millisecond)
		synctest.Wait()
		if !dirty(s) {
			t.Fatal("committed before the sync interval")
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if dirty(s) {
			t.Fatal("the commit timer did not commit after the sync interval")
		}
	})
}

func TestConcurrentUse(t *testing.T) {
	s := openT(t, t.TempDir(), Options{MaxBytes: 64 << 10, SegmentBytes: 4 << 10, SyncInterval: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := map[uint64]bool{}
	for range 4 { // senders: ack most, release some
		wg.Go(func() {
			for {
				b, err := s.Next(ctx)
				if err != nil {
					return
				}
				if b.Seq%7 == 0 {
					s.Release(b.Seq)
					// Released batches come back; ack them then.
					b, err = s.Next(ctx)
					if err != nil {
						return
					}
				}
				mu.Lock()
				if acked[b.Seq] {
					t.Errorf("batch %d handed out after its ack", b.Seq)
				}
				acked[b.Seq] = true
				mu.Unlock()
				if err := s.Ack(b.Seq); err != nil {
					t.Errorf("Ack(%d): %v", b.Seq, err)
				}
			}
		})
	}
	for i := range 500 {
		if _, _, err := s.Append(results(i, 2, 3)); err != nil {
			t.Fatal(err)
		}
		s.Stats()
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().Batches > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	wg.Wait()
	st := s.Stats()
	if st.Batches != 0 {
		t.Fatalf("stats %+v", st)
	}
	if got := uint64(len(acked)) + st.DroppedBatches; got != 500 {
		t.Fatalf("%d acked + %d dropped, want 500", len(acked), st.DroppedBatches)
	}
}

func TestDamagedLease(t *testing.T) {
	dir, _ := spoolWith(t, Options{}, 4)
	if err := os.WriteFile(filepath.Join(dir, leaseName), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs logBuffer
	s := openT(t, dir, Options{Logger: logs.logger()})
	if seq := appendT(t, s, results(0, 1, 1)); seq != 5 {
		t.Fatalf("seq %d with a damaged lease, want 5 from the segment", seq)
	}
	if !strings.Contains(logs.String(), "seq lease file is damaged") {
		t.Fatalf("not logged:\n%s", logs.String())
	}
}
