package pebble

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/store"
)

// mountTmpfs mounts a tmpfs of size (such as "16m") on a fresh directory,
// unmounted at cleanup; it skips the test where mounting is not allowed.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("this test needs a small file system to fill: mount -t tmpfs failed (run as root): %v %s", err, out)
	}
	t.Cleanup(func() {
		// Lazily: a store stopped at a write fault keeps its files open.
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// fill writes zeros to path until the file system has at most leave bytes
// free (ENOSPC ends it early, as it should for leave 0).
func fill(t *testing.T, path string, leave uint64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		free, err := freeBytes(filepath.Dir(path))
		if err != nil {
			t.Fatal(err)
		}
		if free <= leave {
			return
		}
		n := min(uint64(len(buf)), free-leave)
		if _, err := f.Write(buf[:n]); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatal(err)
		}
	}
}

// logLines is a slog handler target that keeps the lines.
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logLines) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(b)
}

func (l *logLines) count(substr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for line := range strings.Lines(l.buf.String()) {
		if strings.Contains(line, substr) {
			n++
		}
	}
	return n
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// waitFor polls cond every 20 ms until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// writeRun writes one run (1000 points) of the bench fleet at ts.
func writeRun(s *Store, ts int64) error {
	ss := benchFleet("acme", "web1")
	w := &store.WriteRequest{Tenant: "acme", Series: ss}
	fillBatch(w, ss, ts)
	return s.Write(context.Background(), w)
}

// TestFreeSpaceFloor: under store.min_free_bytes the store refuses writes
// with store.ErrReadOnly (one log line, however many writes), keeps
// serving reads, is not ready and says why; when space is freed, writes
// resume by themselves. Today writes go on until the disk is full and
// Pebble ends the process.
func TestFreeSpaceFloor(t *testing.T) {
	mnt := mountTmpfs(t, "32m")
	var lines logLines
	opts := testOpts
	opts.Logger = slog.New(slog.NewTextHandler(&lines, nil))
	opts.MinFreeBytes = 8 << 20
	s, err := Open(filepath.Join(mnt, "store"), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := writeRun(s, base); err != nil {
		t.Fatalf("write with room to spare: %v", err)
	}
	if err := s.Ready(); err != nil {
		t.Fatalf("ready with room to spare: %v", err)
	}

	fill(t, filepath.Join(mnt, "filler"), 4<<20)
	var werr error
	waitFor(t, "writes refused under the floor", 5*time.Second, func() bool {
		werr = writeRun(s, base+1_000_000)
		return werr != nil
	})
	if !errors.Is(werr, store.ErrReadOnly) || !strings.Contains(werr.Error(), "min_free_bytes") {
		t.Fatalf("refused write: %v, want store.ErrReadOnly naming min_free_bytes", werr)
	}
	for i := range 200 {
		if err := writeRun(s, base+int64(i)*1_000_000); !errors.Is(err, store.ErrReadOnly) {
			t.Fatalf("write %d under the floor: %v", i, err)
		}
	}
	id := benchFleet("acme", "web1")[0].ID
	pts, err := s.Points(t.Context(), id, base, base+1_000_000, 0)
	if err != nil || len(pts) != 10 {
		t.Fatalf("read under the floor: %d points, %v; want the 10 written before", len(pts), err)
	}
	if err := s.Ready(); err == nil || !strings.Contains(err.Error(), "min_free_bytes") {
		t.Errorf("Ready under the floor: %v", err)
	}
	h := s.Health()
	if !h.ReadOnly || h.Refused[RefusedFreeSpace] < 200 || h.FreeBytes >= h.MinFreeBytes {
		t.Errorf("Health under the floor: %+v", h)
	}
	if n := lines.count("under store.min_free_bytes"); n != 1 {
		t.Errorf("%d log lines about the floor for 200 refused writes, want 1:\n%s", n, lines.String())
	}

	if err := os.Remove(filepath.Join(mnt, "filler")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "writes resume once space is freed", 5*time.Second, func() bool {
		return writeRun(s, base+2_000_000) == nil
	})
	if err := s.Ready(); err != nil {
		t.Errorf("Ready after space was freed: %v", err)
	}
	if n := lines.count("back over store.min_free_bytes"); n != 1 {
		t.Errorf("%d log lines about writes resuming, want 1:\n%s", n, lines.String())
	}
}

// TestDiskFullWriteFault: with no floor, writes fill the disk to the last
// byte. Pebble fails a write-ahead or MANIFEST write and calls Fatalf,
// which ended the process: now the write fails, the store refuses writes
// with store.ErrReadOnly, and reads go on.
func TestDiskFullWriteFault(t *testing.T) {
	mnt := mountTmpfs(t, "8m")
	var lines logLines
	opts := testOpts
	opts.Logger = slog.New(slog.NewTextHandler(&lines, nil))
	opts.MinFreeBytes = -1
	opts.HeadPoints = 10_000 // flush chunks often, so tables fill the disk too
	s, err := Open(filepath.Join(mnt, "store"), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeRun(s, base); err != nil {
		t.Fatal(err)
	}
	fill(t, filepath.Join(mnt, "filler"), 256<<10)
	var werr error
	for i := int64(1); i < 20_000 && werr == nil; i++ {
		werr = writeRun(s, base+i*100_000)
	}
	if werr == nil {
		t.Fatal("20000 writes of 1000 points fit in an 8 MiB file system")
	}
	t.Logf("first failed write: %v", werr)
	waitFor(t, "writes refused", 5*time.Second, func() bool {
		return errors.Is(writeRun(s, base), store.ErrReadOnly)
	})
	id := benchFleet("acme", "web1")[0].ID
	pts, err := s.Points(t.Context(), id, base, base+100_000, 0)
	if err != nil || len(pts) != 10 {
		t.Fatalf("read after the disk filled: %d points, %v; want the first 10", len(pts), err)
	}
	if err := s.Ready(); err == nil {
		t.Error("Ready with a full disk: nil")
	}
	if n := strings.Count(lines.String(), "\n"); n > 5 {
		t.Errorf("%d log lines for one full disk, want a few:\n%s", n, lines.String())
	}
	// Close must not hang on Pebble's parked goroutines.
	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		t.Logf("Close: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Close hangs after a write fault")
	}
}
