package pebble

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// flipByte damages the largest table of dir in its middle and returns
// its name.
func flipByte(t *testing.T, dir string) string {
	t.Helper()
	tables, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	var big string
	var size int64
	for _, p := range tables {
		if fi, err := os.Stat(p); err == nil && fi.Size() > size {
			big, size = p, fi.Size()
		}
	}
	if big == "" {
		t.Fatal("no table to damage")
	}
	b, err := os.ReadFile(big)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/3] ^= 0xff
	if err := os.WriteFile(big, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return filepath.Base(big)
}

// TestDamagedTable walks README's "Recovering a damaged store": a flipped
// byte in a table makes reads fail, and the store says so (not ready,
// counted), where today it stays ready while queries answer 500; store
// check names the file and the series and times it holds; restoring the
// backup of the store directory brings back a store that checks clean and
// holds what the backup held.
func TestDamagedTable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	s := openTest(t, dir)
	for i := range int64(50) {
		if err := writeRun(s, base+i*100_000); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The backup: a copy of the directory with the collector stopped.
	backup := filepath.Join(t.TempDir(), "store-backup")
	if out, err := exec.Command("cp", "-a", dir, backup).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	damaged := flipByte(t, dir)

	s = openTest(t, dir)
	id := benchFleet("acme", "web1")[0].ID
	if _, err := s.Points(t.Context(), id, base, base+50*100_000, 0); err == nil {
		t.Fatalf("read across the damaged table %s succeeded", damaged)
	}
	if err := s.Ready(); err == nil || !strings.Contains(err.Error(), "store reads failing") {
		t.Errorf("Ready after a failed read: %v", err)
	}
	if h := s.Health(); h.ReadErrors == 0 {
		t.Errorf("Health after a failed read: %+v", h)
	}
	s.Close()

	rep, err := Check(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	sum := strings.Join(rep.Summary(), "\n")
	t.Logf("check: %s", sum)
	if len(rep.Damaged) != 1 || rep.Damaged[0].File != damaged ||
		!strings.Contains(sum, "acme/web1/") || !strings.Contains(sum, "raw points of") {
		t.Fatalf("check found %+v, want %s named with the series and times it holds", rep.Damaged, damaged)
	}

	// The procedure: move the damaged directory aside, restore the backup.
	if err := os.Rename(dir, dir+".damaged"); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", backup, dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	if rep, err := Check(t.Context(), dir); err != nil || len(rep.Damaged) != 0 || rep.OpenErr != nil {
		t.Fatalf("check of the restored store: %+v %v", rep, err)
	}
	s = openTest(t, dir)
	defer s.Close()
	pts, err := s.Points(t.Context(), id, base, base+50*100_000, 0)
	if err != nil || len(pts) != 500 {
		t.Fatalf("restored store: %d points, %v; want 500", len(pts), err)
	}
	if err := s.Ready(); err != nil {
		t.Errorf("Ready on the restored store: %v", err)
	}
}

// TestCheckDamagedLog: a damaged write-ahead log is named, and the store
// does not open until it is moved away (losing the writes in it).
func TestCheckDamagedLog(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	s := openTest(t, dir)
	s.head.cancel() // keep the points in the write-ahead log: no flush on Close
	<-s.head.done
	s.head.cancel = nil
	for i := range int64(20) {
		if err := writeRun(s, base+i*100_000); err != nil {
			t.Fatal(err)
		}
	}
	// Abandon the store as a crash would: the log is not flushed to tables.
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	var big string
	var size int64
	for _, p := range logs {
		if fi, err := os.Stat(p); err == nil && fi.Size() > size {
			big, size = p, fi.Size()
		}
	}
	cp := filepath.Join(t.TempDir(), "store")
	if out, err := exec.Command("cp", "-a", dir, cp).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	s.Close()
	big = filepath.Join(cp, filepath.Base(big))
	b, err := os.ReadFile(big)
	if err != nil {
		t.Fatal(err)
	}
	b[100] ^= 0xff
	if err := os.WriteFile(big, b, 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := Check(t.Context(), cp)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("check: %v open: %v", rep.Summary(), rep.OpenErr)
	found := false
	for _, d := range rep.Damaged {
		found = found || d.File == filepath.Base(big)
	}
	if !found {
		t.Fatalf("check did not name %s: %+v", filepath.Base(big), rep.Damaged)
	}
	if _, err := Open(cp, testOpts); err == nil || !strings.Contains(err.Error(), "store check") {
		t.Fatalf("open of a store with a damaged log: %v, want an error pointing at store check", err)
	}
	// README step 3: move the log away; the store opens without its writes.
	if err := os.Rename(big, filepath.Join(t.TempDir(), "damaged.log")); err != nil {
		t.Fatal(err)
	}
	s, err = Open(cp, testOpts)
	if err != nil {
		t.Fatalf("open after moving the damaged log away: %v", err)
	}
	defer s.Close()
	if err := s.Ready(); err != nil {
		t.Errorf("Ready: %v", err)
	}
}
