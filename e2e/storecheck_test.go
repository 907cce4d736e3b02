package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestStoreCheckCommand runs 'vigil-collector store check' on a clean
// store (exit 0) and on one with a flipped byte in a table (exit 1, the
// file named, the recovery procedure pointed at).
func TestStoreCheckCommand(t *testing.T) {
	e := setup(t, "10s")
	data := filepath.Join(e.dir, "collector")
	out, err := exec.Command(e.coll, "store", "check", "--data-dir", data).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "no damage found") {
		t.Fatalf("store check of a clean store: %v\n%s", err, out)
	}
	tables, _ := filepath.Glob(filepath.Join(data, "store", "*.sst"))
	if len(tables) == 0 {
		t.Fatal("dev-setup left no table")
	}
	b, err := os.ReadFile(tables[0])
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/4] ^= 0xff
	if err := os.WriteFile(tables[0], b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(e.coll, "store", "check", "--config", filepath.Join(e.dir, "collector.toml")).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("store check of a damaged store: %v, want exit status 1", err)
	}
	if s := string(out); !strings.Contains(s, "damaged: "+filepath.Base(tables[0])) || !strings.Contains(s, "Recovering a damaged store") {
		t.Errorf("store check output does not name %s and the procedure:\n%s", filepath.Base(tables[0]), s)
	}
	t.Logf("%s", out)
}
