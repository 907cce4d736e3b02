package check

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// rootFstype returns the type of the filesystem mounted on / (the last
// mount listed there).
func rootFstype(t *testing.T) string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var fstype string
	if err := parseMountinfo(b, func(mount, ft, _ []byte, _ uint64) {
		if string(mount) == "/" {
			fstype = string(ft)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if fstype == "" {
		t.Fatal("no / in /proc/self/mountinfo")
	}
	return fstype
}

// TestFilesystemRoot reports / on this host. In a container / is often an
// overlay, excluded by default: then the test asks for it explicitly.
func TestFilesystemRoot(t *testing.T) {
	fstype := rootFstype(t)
	var opts *FilesystemOptions
	if slices.Contains(defaultExcludeFstypes, fstype) {
		t.Logf("/ is %s, excluded by default: asking for it", fstype)
		opts = newFilesystemOptions()
		opts.ExcludeFstypes = nil
	}
	r := run(t, "filesystem", newCheck(t, "filesystem", opts))
	mounts := byLabel(r, "mount")
	root, ok := mounts["/"]
	if !ok {
		t.Fatalf("/ (%s) not reported; got %v (message %q)", fstype, mounts, r.Message)
	}
	checkUsage(t, "/", root)
	for _, m := range r.Metrics {
		if m.Labels[0].Value == "/" && m.Labels[2].Value != fstype {
			t.Errorf("/ has fstype %q, want %q", m.Labels[2].Value, fstype)
		}
	}
	if root["used_bytes"] == 0 || root["inodes_used"] == 0 && root["inodes_total"] > 0 {
		t.Errorf("/ holds this test's binary but reports %v", root)
	}

	// include_mounts narrows to /.
	opts = newFilesystemOptions()
	opts.IncludeMounts = []string{"/"}
	opts.ExcludeFstypes = nil
	r = run(t, "filesystem", newCheck(t, "filesystem", opts))
	if got := slices.Sorted(maps.Keys(byLabel(r, "mount"))); !slices.Equal(got, []string{"/"}) {
		t.Errorf("include_mounts [/] reported %v", got)
	}
	// exclude_mounts wins.
	opts.ExcludeMounts = []string{"/"}
	r = run(t, "filesystem", newCheck(t, "filesystem", opts))
	if len(r.Metrics) != 0 {
		t.Errorf("include and exclude [/] reported %v", r.Metrics)
	}
}

// fakeStatfs answers statfs from a table; a mount in hang blocks until
// release is closed.
type fakeStatfs struct {
	errs    map[string]error
	hang    map[string]bool
	release chan struct{}
	mu      sync.Mutex
	calls   map[string]int
}

func (f *fakeStatfs) statfs(path string) (fsUsage, error) {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[path]++
	f.mu.Unlock()
	if f.hang[path] {
		<-f.release
	}
	if err := f.errs[path]; err != nil {
		return fsUsage{}, err
	}
	return fsUsage{total: 1000, used: 400, free: 500, inodesTotal: 10, inodesUsed: 1}, nil
}

func (f *fakeStatfs) count(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[path]
}

func fakeFilesystem(t *testing.T, fake *fakeStatfs, timeout time.Duration) *filesystemCheck {
	t.Helper()
	opts := newFilesystemOptions()
	opts.ExcludeFstypes = nil // every mount of this host, however few are real
	opts.MountTimeout = Duration{Duration: timeout}
	c, err := newFilesystemCheck(opts)
	if err != nil {
		t.Fatal(err)
	}
	c.statfs = fake.statfs
	return c
}

func TestFilesystemStatError(t *testing.T) {
	fake := &fakeStatfs{errs: map[string]error{"/": syscall.EACCES}}
	c := fakeFilesystem(t, fake, time.Second)
	r := run(t, "filesystem", c)
	mounts := byLabel(r, "mount")
	if _, ok := mounts["/"]; ok {
		t.Errorf("/ reported though its statfs failed")
	}
	if len(mounts) == 0 {
		t.Errorf("no mount reported: one failing mount failed them all")
	}
	if r.Status == Warn {
		t.Errorf("status warn for a permission error")
	}
	if want := "/: permission denied"; !strings.Contains(r.Message, want) {
		t.Errorf("message %q does not say %q", r.Message, want)
	}
}

func TestFilesystemHungMount(t *testing.T) {
	fake := &fakeStatfs{hang: map[string]bool{"/": true}, release: make(chan struct{})}
	const timeout = 50 * time.Millisecond
	c := fakeFilesystem(t, fake, timeout)
	goroutines := runtime.NumGoroutine()

	start := time.Now()
	r := run(t, "filesystem", c)
	if d := time.Since(start); d < timeout || d > 20*timeout {
		t.Errorf("run took %v with a mount timeout of %v", d, timeout)
	}
	if _, ok := byLabel(r, "mount")["/"]; ok {
		t.Errorf("hung / reported")
	}
	if len(r.Metrics) == 0 {
		t.Errorf("the other mounts were not reported after / hung")
	}
	if r.Status != Warn || !strings.Contains(r.Message, "/: statfs timed out") {
		t.Errorf("status %v, message %q; want warn naming /", r.Status, r.Message)
	}

	// While / still hangs, later runs skip it at once, without calling
	// statfs on it again (so without another blocked goroutine). Waiting
	// for / again would take the 50 ms timeout each time; the bound is
	// looser because a loaded CI machine took 54 ms for a run without it.
	start = time.Now()
	for range 3 {
		r = run(t, "filesystem", c)
		if r.Status != Warn || !strings.Contains(r.Message, "/: statfs still blocked") {
			t.Errorf("status %v, message %q with / stuck", r.Status, r.Message)
		}
	}
	if d := time.Since(start); d >= 3*timeout {
		t.Errorf("3 runs with / stuck took %v", d)
	}
	if n := fake.count("/"); n != 1 {
		t.Errorf("statfs(/) called %d times while stuck, want 1", n)
	}
	// A Run's worker sends its last word just before it returns, so it
	// may still be counted for a moment after the Run: wait, do not count
	// once. One more is the blocked statfs.
	waitGoroutines(t, goroutines+1)

	// Once its statfs returns, / is back.
	close(fake.release)
	for deadline := time.Now().Add(5 * time.Second); ; {
		c.mu.Lock()
		n := len(c.stuck)
		c.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/ still stuck after its statfs returned")
		}
		time.Sleep(time.Millisecond)
	}
	r = run(t, "filesystem", c)
	if _, ok := byLabel(r, "mount")["/"]; !ok || r.Status == Warn || r.Message != "" {
		t.Errorf("/ not back: status %v, message %q", r.Status, r.Message)
	}
	waitGoroutines(t, goroutines)
}

func TestFilesystemContextCancelled(t *testing.T) {
	fake := &fakeStatfs{hang: map[string]bool{"/": true}, release: make(chan struct{})}
	c := fakeFilesystem(t, fake, time.Hour)
	goroutines := runtime.NumGoroutine()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	err := c.Run(ctx, &Result{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run = %v, want the context's error", err)
	}
	close(fake.release)
	waitGoroutines(t, goroutines)
}

func waitGoroutines(t *testing.T, want int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > want; {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, want %d: a stat worker leaked", runtime.NumGoroutine(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestFilesystemMountinfo runs the check on a mount table from a file:
// stacked mounts, escapes, filters, and bind mounts of a filesystem already
// reported (as systemd's PrivateTmp and ReadWritePaths make), left out.
func TestFilesystemMountinfo(t *testing.T) {
	const table = `22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
40 27 0:40 / /proc/sys/fs/binfmt_misc rw - autofs systemd-1 rw
41 40 0:41 / /proc/sys/fs/binfmt_misc rw - binfmt_misc binfmt_misc rw
50 27 8:1 / /data rw - ext4 /dev/sdb1 rw
51 50 8:2 / /data rw - xfs /dev/sdc1 rw
60 27 0:50 / /mnt/my\040disk rw - nfs4 srv:/export\040x rw
61 27 0:51 / /boot rw - vfat /dev/sda1 rw
70 27 254:0 /tmp/systemd-private-1/tmp /tmp rw - ext4 /dev/vda rw
71 27 254:0 /var/lib/vigil/agent /var/lib/vigil/agent rw - ext4 /dev/vda rw
`
	path := filepath.Join(t.TempDir(), "mountinfo")
	if err := os.WriteFile(path, []byte(table), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := newFilesystemOptions()
	opts.ExcludeMounts = []string{"/boot"}
	c, err := newFilesystemCheck(opts)
	if err != nil {
		t.Fatal(err)
	}
	c.rd.f.path = path
	fake := &fakeStatfs{}
	c.statfs = fake.statfs

	for i := range 2 { // the second run comes from the cache
		r := run(t, "filesystem", c)
		var got []string
		for _, m := range r.Metrics {
			if m.Name == "total_bytes" {
				got = append(got, m.Labels[0].Value+" "+m.Labels[1].Value+" "+m.Labels[2].Value)
			}
		}
		want := []string{"/ /dev/vda ext4", "/data /dev/sdc1 xfs", "/mnt/my disk srv:/export x nfs4"}
		if !slices.Equal(got, want) {
			t.Errorf("run %d: got %q, want %q", i, got, want)
		}
		if n := fake.count("/data"); n != i+1 {
			t.Errorf("run %d: /data statted %d times", i, n)
		}
	}
	if len(c.cache.m) != 10 {
		t.Errorf("cache holds %d entries, want one per line (10)", len(c.cache.m))
	}
	// A mount gone is forgotten.
	if err := os.WriteFile(path, []byte(table[:strings.Index(table, "50 27")]), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "filesystem", c)
	if len(c.cache.m) != 4 {
		t.Errorf("cache holds %d entries after unmounts, want 4", len(c.cache.m))
	}
}

func TestDevID(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want uint64
	}{
		{"254:0", 1<<63 | 254<<32},
		{"0:21", 1<<63 | 21},
		{"8:17", 1<<63 | 8<<32 | 17},
		{"", 0},
		{":1", 0},
		{"8:", 0},
		{"8", 0},
		{"a:1", 0},
		{"1:b", 0},
		{"99999999999:1", 0},
	} {
		if got := devID([]byte(tt.in)); got != tt.want {
			t.Errorf("devID(%q) = %#x, want %#x", tt.in, got, tt.want)
		}
	}
}
