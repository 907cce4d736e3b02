package spool

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// tmpfsDir mounts a tmpfs of size bytes and returns its path, or skips the
// test when this process may not mount.
func tmpfsDir(t *testing.T, size int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "fs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+itoa(size)); err != nil {
		t.Skipf("cannot mount a tmpfs to fill (needs root or CAP_SYS_ADMIN): %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount the test file system at %s: %v", dir, err)
		}
	})
	return dir
}

func itoa(n int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			return string(b)
		}
	}
}

// TestFullDiskDropsOldestAndReclaims: a spool on a 1 MiB filesystem, far
// below its max_bytes, with no collector acking. Today appends fail
// (the newest results are lost, uncounted) and acked space never comes
// back. Required: appends keep succeeding by dropping the oldest batches,
// which are counted; once everything is acked the files shrink without a
// restart; a reopen finds no damage.
func TestFullDiskDropsOldestAndReclaims(t *testing.T) {
	for _, p := range []SyncPolicy{SyncInterval, SyncAlways} {
		t.Run(string(p), func(t *testing.T) {
			dir := filepath.Join(tmpfsDir(t, 1<<20), "spool")
			var logs logBuffer
			opts := Options{Sync: p, Logger: logs.logger()}
			s := openT(t, dir, opts)
			// ~3.5 KiB a batch: 1 MiB is full after ~300.
			var appended, lastSeq uint64
			for i := range 900 {
				seq, _, err := s.Append(results(i, 4, 8))
				if err != nil {
					t.Fatalf("append %d on a full disk: %v\nlog:\n%s", i, err, logs.String())
				}
				appended++
				lastSeq = seq
			}
			st := s.Stats()
			if st.DroppedPoints == 0 || st.DroppedBatches == 0 {
				t.Fatalf("nothing counted as dropped: %+v", st)
			}
			if !strings.Contains(logs.String(), "disk full: dropped the oldest batches") {
				t.Fatalf("no log line for the drop:\n%s", logs.String())
			}
			if uint64(st.Batches)+st.DroppedBatches != appended {
				t.Fatalf("%d kept + %d dropped != %d appended", st.Batches, st.DroppedBatches, appended)
			}
			seqs := sendable(t, s)
			if seqs[len(seqs)-1] != lastSeq || seqs[0] == 1 {
				t.Fatalf("kept seqs %d..%d, want the newest up to %d and not the oldest", seqs[0], seqs[len(seqs)-1], lastSeq)
			}
			full, _ := diskBytes(t, dir)
			// The collector returns and acks everything.
			for _, seq := range seqs {
				if err := s.Ack(seq); err != nil {
					t.Fatal(err)
				}
			}
			after, _ := diskBytes(t, dir)
			if after > 64<<10 || after != s.Stats().Bytes {
				t.Fatalf("after acking everything the files hold %d bytes (stats %d), %d while full", after, s.Stats().Bytes, full)
			}
			// New results are kept again, and a healthy spool stays small.
			for i := range 300 {
				seq := appendT(t, s, results(i, 4, 8))
				if got := sendable(t, s); len(got) != 1 || got[0] != seq {
					t.Fatalf("sendable %v, want [%d]", got, seq)
				}
				if err := s.Ack(seq); err != nil {
					t.Fatal(err)
				}
				if b, _ := diskBytes(t, dir); b > 80<<10 {
					t.Fatalf("healthy spool with nothing unacked holds %d bytes", b)
				}
			}
			if st := s.Stats(); st.DroppedBatches != appended-uint64(len(seqs)) {
				t.Fatalf("dropped after recovery of the disk: %+v", st)
			}
			// Leave a backlog and reopen: torn writes on ENOSPC left no damage.
			for i := range 50 {
				appendT(t, s, results(i, 4, 8))
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = openT(t, dir, opts)
			if st := s.Stats(); st.Corrupt != 0 || st.Batches != 50 {
				t.Fatalf("after reopen: %+v\n%s", st, logs.String())
			}
		})
	}
}
