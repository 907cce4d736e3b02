package e2e

import (
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fillTo writes zeros to path until dir's file system has at most leave
// bytes free.
func fillTo(t *testing.T, path string, leave uint64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		var st syscall.Statfs_t
		if err := syscall.Statfs(filepath.Dir(path), &st); err != nil {
			t.Fatal(err)
		}
		free := uint64(st.Bavail) * uint64(st.Bsize)
		if free <= leave {
			return
		}
		if _, err := f.Write(buf[:min(uint64(len(buf)), free-leave)]); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatal(err)
		}
	}
}

func httpStatus(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	n, _ := resp.Body.Read(buf)
	b.Write(buf[:n])
	return resp.StatusCode, b.String()
}

// TestCollectorFullDisk runs the real collector with its data directory on
// a small tmpfs. Under store.min_free_bytes it keeps running and serving
// queries, /readyz says 503 and why, once; when space is freed it is ready
// again by itself. Started on a disk with no space at all, it exits with
// status 1 and one line naming the full disk (today: a line from Pebble's
// fatal handler on the MANIFEST, or a flood of flush errors).
func TestCollectorFullDisk(t *testing.T) {
	_, coll := binaries(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "collector")
	httpAddr := freeTCP(t)
	// dev-setup writes tokens with the default floor (256 MiB), more than
	// the tmpfs has: set up on the ordinary disk, then move the store.
	if out, err := exec.Command(coll, "dev-setup", "--dir", dir, "--quic", freeUDP(t), "--http", httpAddr,
		"--agent-id", "e2e-host").CombinedOutput(); err != nil {
		t.Fatalf("dev-setup: %v\n%s", err, out)
	}
	if err := os.Rename(data, data+".setup"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", data).CombinedOutput(); err != nil {
		t.Skipf("this test needs a small file system to fill: mount -t tmpfs failed (run as root): %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", data).CombinedOutput(); err != nil {
			t.Errorf("cleanup: umount %s: %v\n%s", data, err, out)
		}
	})
	if out, err := exec.Command("cp", "-a", data+".setup/store", data+"/").CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	conf := filepath.Join(dir, "collector.toml")
	appendFile(t, conf, "\n[store]\nmin_free_bytes = 33554432\n")
	read := strings.TrimSpace(readFile(t, filepath.Join(dir, "read-token")))

	filler := filepath.Join(data, "filler")
	fillTo(t, filler, 16<<20)
	p := start(t, coll, "run", "--config", conf)
	base := "http://" + httpAddr
	deadline := time.Now().Add(15 * time.Second)
	var code int
	var body string
	for time.Now().Before(deadline) {
		if code, body = httpStatus(base + "/readyz"); code == 503 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code != 503 || !strings.Contains(body, "min_free_bytes") {
		t.Fatalf("/readyz under the floor: %d %s", code, body)
	}
	if c, b := httpStatus(base + "/healthz"); c != 200 {
		t.Errorf("/healthz under the floor: %d %s", c, b)
	}
	req, _ := http.NewRequest("GET", base+"/v1/agents", nil)
	req.Header.Set("Authorization", "Bearer "+read)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("query under the floor: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if code, body = httpStatus(base + "/readyz"); code == 200 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code != 200 {
		t.Fatalf("/readyz after space was freed: %d %s", code, body)
	}
	if n := strings.Count(p.output(), "free disk space under store.min_free_bytes"); n != 1 {
		t.Errorf("%d log lines about the floor, want 1:\n%s", n, p.output())
	}
	p.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // teardown: the process may have exited or been killed already
	p.cmd.Wait()                          //nolint:errcheck // its exit status is not what this test checks

	// No space at all. Either Pebble cannot open the store (it must
	// write a new MANIFEST or log), and the collector exits with status 1
	// and one line saying the disk is full; or it opens, and the collector
	// serves reads, unready, saying so once: never a flood of lines.
	fillTo(t, filler, 0)
	var out safeBuffer
	cmd := exec.Command(coll, "run", "--config", conf)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline = time.Now().Add(15 * time.Second)
	for {
		select {
		case err := <-exited:
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Errorf("exit on a full disk: %v, want status 1", err)
			}
			text := strings.TrimSpace(out.String())
			if n := strings.Count(text, "\n") + 1; n > 2 || !strings.Contains(text, "disk is full") {
				t.Errorf("output on a full disk (%d lines), want one line saying the disk is full:\n%.3000s", n, text)
			}
			t.Logf("could not open: %s", text)
			return
		default:
		}
		if c, b := httpStatus(base + "/readyz"); c == 503 && strings.Contains(b, "min_free_bytes") {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill() //nolint:errcheck // teardown: the process may have exited or been killed already
			t.Fatalf("collector on a full disk neither exited nor said it is unready within 15 s:\n%.3000s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // a flood would show here
	// Teardown: the process may have exited already, and the log below,
	// not its exit status, is what this test checks.
	cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // see above
	<-exited                            //nolint:errcheck // see above
	text := out.String()
	if n := strings.Count(text, "\n"); n > 8 || strings.Count(text, "free disk space under store.min_free_bytes") != 1 {
		t.Errorf("output on a full disk: %d lines, want a few with one about the floor:\n%.3000s", n, text)
	}
	t.Logf("opened read-only:\n%s", text)
}

type safeBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func readFile(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
