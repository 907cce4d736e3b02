package spool

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilmon/vigil/protocol"
)

// The kill -9 test runs this package's test binary again as a child that
// appends and acks, then dies without closing the spool. These variables
// tell the child what to do.
const (
	childDir  = "VIGIL_SPOOL_CHILD_DIR"
	childMode = "VIGIL_SPOOL_CHILD_MODE"
	childSync = "VIGIL_SPOOL_CHILD_SYNC"
)

var childOpts = Options{MaxBytes: 4 << 20, SegmentBytes: 4 << 10}

// TestCrashChild is the child of TestKill9; it does nothing in a normal run.
// It prints "a SEQ" once Append has returned SEQ, "n SEQ" once Next handed
// SEQ out and "k SEQ" once Ack has returned for it.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(childDir)
	if dir == "" {
		t.Skip("helper process for TestKill9")
	}
	opts := childOpts
	opts.Sync = SyncPolicy(os.Getenv(childSync))
	s, err := Open(dir, opts)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	// Ack the even seqs and leave the odd ones in flight, so acks are
	// sparse and out of order and segments stay half acked.
	acker := func(stop func(uint64) bool) {
		for {
			b, err := s.Next(context.Background())
			if err != nil {
				return
			}
			fmt.Println("n", b.Seq)
			if b.Seq%2 == 0 {
				if err := s.Ack(b.Seq); err != nil {
					fmt.Println("error", err)
					os.Exit(2)
				}
				fmt.Println("k", b.Seq)
			}
			if stop(b.Seq) {
				return
			}
		}
	}
	switch os.Getenv(childMode) {
	case "selfkill":
		// Append 60, ack the even ones, then die without Close.
		for i := range 60 {
			seq, _, err := s.Append(results(i, 2, 7))
			if err != nil {
				fmt.Println("error", err)
				os.Exit(2)
			}
			fmt.Println("a", seq)
		}
		acker(func(seq uint64) bool { return seq == 60 })
		p, _ := os.FindProcess(os.Getpid())
		if err := p.Kill(); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		select {}
	case "loop":
		// Append and ack until the parent kills the process, at whatever
		// point that finds it.
		go acker(func(uint64) bool { return false })
		for i := 0; ; i++ {
			seq, _, err := s.Append(results(i, 2, 7))
			if err != nil {
				fmt.Println("error", err)
				os.Exit(2)
			}
			fmt.Println("a", seq)
		}
	}
}

func TestKill9(t *testing.T) {
	for _, policy := range []SyncPolicy{SyncAlways, SyncInterval, SyncNever} {
		for _, mode := range []string{"selfkill", "loop"} {
			t.Run(string(policy)+"/"+mode, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
				cmd.Env = append(os.Environ(), childDir+"="+dir, childMode+"="+mode, childSync+"="+string(policy))
				cmd.Stderr = os.Stderr
				out, err := cmd.StdoutPipe()
				if err != nil {
					t.Fatal(err)
				}
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				appended, handed, acked := map[uint64]bool{}, map[uint64]bool{}, map[uint64]bool{}
				var lastHanded, maxSeq uint64
				killed := false
				sc := bufio.NewScanner(out)
				for sc.Scan() {
					kind, num, ok := strings.Cut(sc.Text(), " ")
					if !ok {
						continue
					}
					if kind == "error" {
						t.Fatalf("child: %s", num)
					}
					seq, err := strconv.ParseUint(num, 10, 64)
					if err != nil {
						continue
					}
					switch kind {
					case "a":
						appended[seq] = true
						maxSeq = max(maxSeq, seq)
					case "n":
						handed[seq] = true
						lastHanded = seq
					case "k":
						acked[seq] = true
					}
					if mode == "loop" && len(appended) == 400 && !killed {
						if err := cmd.Process.Kill(); err != nil {
							t.Fatalf("kill child: %v", err)
						}
						killed = true
					}
				}
				if err := cmd.Wait(); err == nil {
					t.Fatal("child exited cleanly; it should have been killed")
				}
				if len(appended) < 60 {
					t.Fatalf("child appended only %d batches", len(appended))
				}

				var logs logBuffer
				opts := childOpts
				opts.Logger = logs.logger()
				s := openT(t, dir, opts)
				got := sendable(t, s)
				if !slices.IsSorted(got) {
					t.Fatalf("resent out of order: %v", got)
				}
				have := map[uint64]bool{}
				for _, seq := range got {
					have[seq] = true
					if acked[seq] {
						t.Errorf("batch %d was acked before the kill but is sent again", seq)
					}
					if !appended[seq] && seq <= maxSeq {
						t.Errorf("batch %d was never appended", seq)
					}
				}
				for seq := range appended {
					if have[seq] || acked[seq] {
						continue
					}
					// Only an ack under way at the kill may be missing
					// from the output.
					if !(handed[seq] && seq == lastHanded && seq%2 == 0) {
						t.Errorf("batch %d was appended and not acked, but is lost", seq)
					}
				}
				if seq := appendT(t, s, results(0, 1, 1)); seq <= maxSeq {
					t.Errorf("seq %d after the crash repeats one used before (up to %d)", seq, maxSeq)
				}
				if strings.Contains(logs.String(), "level=ERROR") {
					t.Errorf("recovery logged errors:\n%s", logs.String())
				}
				t.Logf("%d appended, %d acked, %d resent; recovery log:\n%s", len(appended), len(acked), len(got), logs.String())
			})
		}
	}
}

// spoolWith makes a spool in a new directory holding n batches, closes it
// and returns the directory and where each record lies.
func spoolWith(t *testing.T, opts Options, n int) (dir string, recs []recordAt) {
	t.Helper()
	dir = t.TempDir()
	s := openT(t, dir, opts)
	for i := range n {
		appendT(t, s, results(i, 1, 3))
	}
	s.mu.Lock()
	for _, seg := range s.segs {
		for _, e := range seg.entries {
			recs = append(recs, recordAt{seq: e.seq, path: s.segPath(seg.num), off: int64(e.off), size: int64(recHeaderLen + e.size)})
		}
	}
	s.mu.Unlock()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, recs
}

type recordAt struct {
	seq       uint64
	path      string
	off, size int64
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x40
	if _, err := f.WriteAt(b[:], off); err != nil {
		t.Fatal(err)
	}
}

func seqsUpTo(n uint64) []uint64 {
	var s []uint64
	for i := uint64(1); i <= n; i++ {
		s = append(s, i)
	}
	return s
}

func TestCorruptTailOfNewestSegment(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, last recordAt)
		keep   uint64 // batches 1..keep survive
		cutAt  func(last recordAt) int64
	}{
		{"truncated by 3 bytes", func(t *testing.T, last recordAt) {
			truncate(t, last.path, last.off+last.size-3)
		}, 5, func(last recordAt) int64 { return last.off }},
		{"truncated inside the header", func(t *testing.T, last recordAt) {
			truncate(t, last.path, last.off+5)
		}, 5, func(last recordAt) int64 { return last.off }},
		{"payload byte flipped", func(t *testing.T, last recordAt) {
			flipByte(t, last.path, last.off+last.size-4)
		}, 5, func(last recordAt) int64 { return last.off }},
		{"checksum byte flipped", func(t *testing.T, last recordAt) {
			flipByte(t, last.path, last.off+5)
		}, 5, func(last recordAt) int64 { return last.off }},
		{"length garbage", func(t *testing.T, last recordAt) {
			writeAt(t, last.path, binary.LittleEndian.AppendUint32(nil, 0xfffffff0), last.off)
		}, 5, func(last recordAt) int64 { return last.off }},
		{"zeros after the last record", func(t *testing.T, last recordAt) {
			writeAt(t, last.path, make([]byte, 300), last.off+last.size)
		}, 6, func(last recordAt) int64 { return last.off + last.size }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, recs := spoolWith(t, Options{}, 6)
			last := recs[len(recs)-1]
			tc.damage(t, last)
			var logs logBuffer
			s := openT(t, dir, Options{Logger: logs.logger()})
			if got := sendable(t, s); !slices.Equal(got, seqsUpTo(tc.keep)) {
				t.Fatalf("after damage: %v, want 1..%d", got, tc.keep)
			}
			cut := tc.cutAt(last)
			log := logs.String()
			if !strings.Contains(log, "torn or corrupt tail") || !strings.Contains(log, filepath.Base(last.path)) ||
				!strings.Contains(log, fmt.Sprintf("offset=%d", cut)) {
				t.Fatalf("log does not name the damage, file and offset %d:\n%s", cut, log)
			}
			if fi, err := os.Stat(last.path); err != nil || fi.Size() != cut {
				t.Fatalf("segment not cut at %d: %v, %v", cut, fi.Size(), err)
			}
			if st := s.Stats(); st.Corrupt != 1 {
				t.Fatalf("Corrupt = %d", st.Corrupt)
			}
			if seq := appendT(t, s, results(0, 1, 1)); seq != 7 {
				t.Fatalf("seq after recovery %d, want 7", seq)
			}
		})
	}
}

func TestCorruptRecordInOlderSegment(t *testing.T) {
	dir, recs := spoolWith(t, Options{MaxBytes: 1 << 20, SegmentBytes: 1 << 10}, 16)
	bySeg := map[string][]recordAt{}
	var paths []string
	for _, r := range recs {
		if bySeg[r.path] == nil {
			paths = append(paths, r.path)
		}
		bySeg[r.path] = append(bySeg[r.path], r)
	}
	if len(paths) < 3 || len(bySeg[paths[0]]) < 3 {
		t.Fatalf("want at least 3 segments of 3 records, have %d", len(paths))
	}
	// Damage the second record of the first segment.
	bad := bySeg[paths[0]][1]
	flipByte(t, bad.path, bad.off+bad.size/2)
	var logs logBuffer
	s := openT(t, dir, Options{MaxBytes: 1 << 20, SegmentBytes: 1 << 10, Logger: logs.logger()})
	// Only the damaged record is lost; the rest of its segment is kept.
	var want []uint64
	for _, r := range recs {
		if r.seq != bad.seq {
			want = append(want, r.seq)
		}
	}
	if got := sendable(t, s); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	log := logs.String()
	if !strings.Contains(log, "damaged records inside a segment") || !strings.Contains(log, filepath.Base(bad.path)) ||
		!strings.Contains(log, fmt.Sprintf("offset=%d", bad.off)) {
		t.Fatalf("log does not name the damage:\n%s", log)
	}
}

func TestCorruptDoneLog(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{})
	for i := range 5 {
		appendT(t, s, results(i, 1, 1))
	}
	sendable(t, s)
	for _, seq := range []uint64{2, 1, 4} {
		ackT(t, s, seq)
	}
	s.Close()
	acks, _ := filepath.Glob(filepath.Join(dir, "*.ack"))
	if len(acks) != 1 {
		t.Fatalf("done logs: %v", acks)
	}
	fi, _ := os.Stat(acks[0])
	truncate(t, acks[0], fi.Size()-5) // the mark for 4 is torn
	var logs logBuffer
	s = openT(t, dir, Options{Logger: logs.logger()})
	if got := sendable(t, s); !slices.Equal(got, []uint64{3, 4, 5}) {
		t.Fatalf("got %v, want 3 4 5", got)
	}
	if !strings.Contains(logs.String(), "torn or corrupt mark") {
		t.Fatalf("no warning:\n%s", logs.String())
	}
	// Marks written after the repair are read back.
	if err := s.Ack(4); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openT(t, dir, Options{})
	if got := sendable(t, s); !slices.Equal(got, []uint64{3, 5}) {
		t.Fatalf("got %v, want 3 5", got)
	}
}

func TestForeignAndTornFiles(t *testing.T) {
	dir, _ := spoolWith(t, Options{}, 3)
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("000000000050.seg", []byte("VIG"))                     // torn while created
	write("000000000060.seg", []byte("something else entirely")) // not ours
	write("000000000070.ack", ackMagic[:])                       // segment gone
	write("000000000080.ack", []byte("junk"))                    // segment gone
	write("notes.txt", []byte("hello"))
	write("12.seg.bak", []byte("hello"))
	var logs logBuffer
	s := openT(t, dir, Options{Logger: logs.logger()})
	if got := sendable(t, s); !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Fatalf("got %v", got)
	}
	for name, want := range map[string]bool{
		"000000000050.seg": false, "000000000060.seg": true, "000000000070.ack": false,
		"000000000080.ack": false, "notes.txt": true, "12.seg.bak": true,
	} {
		if _, err := os.Stat(filepath.Join(dir, name)); (err == nil) != want {
			t.Errorf("%s: exists=%v, want %v", name, err == nil, want)
		}
	}
	if !strings.Contains(logs.String(), "not a segment of this spool format") {
		t.Fatalf("foreign segment not logged:\n%s", logs.String())
	}
	// New segments are numbered past every file seen.
	appendT(t, s, results(0, 1, 1))
	if f := segFiles(t, dir); filepath.Base(f[len(f)-1]) != "000000000081.seg" {
		t.Fatalf("segments: %v", f)
	}
}

func TestRecordDamagedWhileOpen(t *testing.T) {
	dir := t.TempDir()
	var logs logBuffer
	s := openT(t, dir, Options{Logger: logs.logger()})
	for i := range 3 {
		appendT(t, s, results(i, 1, 2))
	}
	s.mu.Lock()
	e := s.segs[0].entries[1]
	path := s.segPath(s.segs[0].num)
	s.mu.Unlock()
	flipByte(t, path, int64(e.off)+recHeaderLen+3)
	// The damaged batch is skipped: only two come out.
	if got := []uint64{nextT(t, s).Seq, nextT(t, s).Seq}; !slices.Equal(got, []uint64{1, 3}) {
		t.Fatalf("got %v, want 1 3", got)
	}
	if st := s.Stats(); st.Corrupt != 1 || st.Batches != 2 {
		t.Fatalf("stats %+v", st)
	}
	if !strings.Contains(logs.String(), "batch unreadable") {
		t.Fatalf("not logged:\n%s", logs.String())
	}
}

func TestCrashLosesNothingAppended(t *testing.T) {
	// The in-process version of TestKill9, for every policy: files are
	// abandoned without Close and without the last sync.
	for _, p := range []SyncPolicy{SyncAlways, SyncInterval, SyncNever} {
		t.Run(string(p), func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{Sync: p, MaxBytes: 1 << 20, SegmentBytes: 1 << 10, SyncInterval: time.Hour}
			s, err := Open(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 30 {
				appendT(t, s, results(i, 1, 2))
			}
			for _, seq := range sendable(t, s) {
				if seq%3 == 0 {
					ackT(t, s, seq)
				}
			}
			crash(s)
			s = openT(t, dir, opts)
			var want []uint64
			for seq := uint64(1); seq <= 30; seq++ {
				if seq%3 != 0 {
					want = append(want, seq)
				}
			}
			if got := sendable(t, s); !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
}

// damagedSpool writes a one-segment spool of n batches of varied sizes,
// then overwrites bytes of its records: damage holds 3-byte pairs of a
// little-endian 16-bit position in the records (the segment header is left
// alone) and the byte to write there. It returns the directory and which
// seqs' records are still byte for byte as written.
func damagedSpool(t *testing.T, n int, damage []byte) (dir string, intact []uint64) {
	t.Helper()
	dir = t.TempDir()
	var seg []byte
	seg = append(seg, segMagic[:]...)
	type span struct{ off, end int }
	var spans []span
	for i := range n {
		rec := record(t, &protocol.Batch{Seq: uint64(i + 1), Results: results(i, 1+i%3, 1+i%4)})
		spans = append(spans, span{len(seg), len(seg) + len(rec)})
		seg = append(seg, rec...)
	}
	touched := make([]bool, len(seg))
	for ; len(damage) >= 3; damage = damage[3:] {
		pos := segHeaderLen + int(binary.LittleEndian.Uint16(damage))%(len(seg)-segHeaderLen)
		if seg[pos] != damage[2] {
			seg[pos] = damage[2]
			touched[pos] = true
		}
	}
	for i, sp := range spans {
		if !slices.Contains(touched[sp.off:sp.end], true) {
			intact = append(intact, uint64(i+1))
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "000000000001.seg"), seg, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, intact
}

// TestDamageCostsOnlyTheDamagedRecord: one bad record used to cut off every
// record after it in its segment.
func TestDamageCostsOnlyTheDamagedRecord(t *testing.T) {
	zero := func(t *testing.T, path string, off, n int64) {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteAt(make([]byte, n), off); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name    string
		damage  func(t *testing.T, recs []recordAt)
		lost    []uint64
		regions uint64
	}{
		{"one flipped payload byte", func(t *testing.T, recs []recordAt) {
			flipByte(t, recs[4].path, recs[4].off+recs[4].size/2)
		}, []uint64{5}, 1},
		{"a flipped length and a flipped checksum", func(t *testing.T, recs []recordAt) {
			flipByte(t, recs[3].path, recs[3].off+2)
			flipByte(t, recs[12].path, recs[12].off+5)
		}, []uint64{4, 13}, 2},
		{"zeros over two records", func(t *testing.T, recs []recordAt) {
			zero(t, recs[7].path, recs[7].off+5, recs[8].off+recs[8].size-recs[7].off-10)
		}, []uint64{8, 9}, 1},
		{"the first record", func(t *testing.T, recs []recordAt) {
			zero(t, recs[0].path, recs[0].off, 4)
		}, []uint64{1}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, recs := spoolWith(t, Options{}, 20)
			tc.damage(t, recs)
			lost := tc.lost
			var logs logBuffer
			s := openT(t, dir, Options{Logger: logs.logger()})
			var want []uint64
			for _, r := range recs {
				if !slices.Contains(lost, r.seq) {
					want = append(want, r.seq)
				}
			}
			if got := sendable(t, s); !slices.Equal(got, want) {
				t.Fatalf("recovered %v, want %v", got, want)
			}
			st := s.Stats()
			var bytesLost uint64
			for _, r := range recs {
				if slices.Contains(lost, r.seq) {
					bytesLost += uint64(r.size)
				}
			}
			if st.Corrupt != tc.regions || st.SkippedRecords != uint64(len(lost)) || st.SkippedBytes != bytesLost {
				t.Fatalf("Corrupt %d SkippedRecords %d SkippedBytes %d; want %d, %d, %d",
					st.Corrupt, st.SkippedRecords, st.SkippedBytes, tc.regions, len(lost), bytesLost)
			}
			if n := strings.Count(logs.String(), "damaged records inside a segment"); uint64(n) != tc.regions {
				t.Fatalf("%d log lines for %d damaged regions:\n%s", n, tc.regions, logs.String())
			}
			if seq := appendT(t, s, results(0, 1, 1)); seq != 21 {
				t.Fatalf("seq after recovery %d, want 21", seq)
			}
		})
	}
}

// FuzzDamageKeepsIntactRecords: whatever bytes are overwritten, every
// record whose own bytes were untouched is recovered, in order, and
// nothing else is.
func FuzzDamageKeepsIntactRecords(f *testing.F) {
	f.Add([]byte{100, 0, 0xff})
	f.Add([]byte{0, 0, 0, 1, 0, 0, 2, 0, 0, 3, 0, 0})
	f.Add([]byte{10, 1, 7, 200, 2, 0, 50, 0, 0xaa})
	f.Add(bytes.Repeat([]byte{0x40, 0x01, 0}, 40))
	f.Fuzz(func(t *testing.T, damage []byte) {
		if len(damage) > 3*64 {
			damage = damage[:3*64]
		}
		dir, intact := damagedSpool(t, 12, damage)
		s, err := Open(dir, Options{Sync: SyncNever})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer s.Close()
		got := sendable(t, s)
		for _, seq := range intact {
			if !slices.Contains(got, seq) {
				t.Fatalf("intact record %d lost: recovered %v, intact %v", seq, got, intact)
			}
		}
		if !slices.IsSorted(got) || len(got) > 12 || (len(got) > 0 && got[len(got)-1] > 12) {
			t.Fatalf("recovered %v", got)
		}
	})
}

func truncate(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

// writeAt overwrites path at off with b, as damage on disk would.
func writeAt(t *testing.T, path string, b []byte, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func ackT(t *testing.T, s *Spool, seq uint64) {
	t.Helper()
	if err := s.Ack(seq); err != nil {
		t.Fatalf("ack %d: %v", seq, err)
	}
}
