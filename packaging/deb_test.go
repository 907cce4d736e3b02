package packaging

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Versions of the two packages the install test builds: it installs the
// first, upgrades to the second, removes and purges.
const (
	testVersion1 = "v0.0.1"
	testVersion2 = "v0.0.2"
	testCommit   = "0123456789ab"
)

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// buildDebs builds both daemons for linux and, with packaging/mkpkg, their
// packages at testVersion1 and testVersion2 under dir.
func buildDebs(t *testing.T, dir string) {
	ldflags := fmt.Sprintf("-s -w -X github.com/vigilmon/vigil/agent.Version=%[1]s -X github.com/vigilmon/vigil/collector.Version=%[1]s -X main.commit=%[2]s",
		testVersion1, testCommit)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", ldflags, "-o", dir+"/bin/", "../cmd/vigil-agent", "../cmd/vigil-collector")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	run(t, "go", "build", "-o", dir+"/mkpkg", "./mkpkg")
	for _, v := range []string{testVersion1, testVersion2} {
		run(t, dir+"/mkpkg", "--root", "..", "--version", v, "--arch", goarch(t), "--bin", dir+"/bin", "--out", dir, "--formats", "deb")
	}
}

func goarch(t *testing.T) string {
	out, err := exec.Command("go", "env", "GOARCH").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

func debPath(t *testing.T, dir, name, version string) string {
	p := filepath.Join(dir, fmt.Sprintf("%s_%s_%s.deb", name, strings.TrimPrefix(version, "v"), goarch(t)))
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDeb installs, upgrades, removes and purges each .deb with dpkg and
// checks what each step leaves on the machine; then runs lintian on it.
func TestDeb(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipped: installing packages needs root (CI runs as root)")
	}
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Skip("skipped: dpkg not found (this test needs a Debian-like system)")
	}
	for _, name := range []string{"vigil-agent", "vigil-collector"} {
		if exec.Command("dpkg", "-s", name).Run() == nil {
			t.Skipf("skipped: %s is installed on this machine, and this test would remove it", name)
		}
	}
	dir := t.TempDir()
	buildDebs(t, dir)
	for _, name := range []string{"vigil-agent", "vigil-collector"} {
		t.Run(name, func(t *testing.T) {
			testDeb(t, name, debPath(t, dir, name, testVersion1), debPath(t, dir, name, testVersion2))
		})
		t.Run(name+"/lintian", func(t *testing.T) {
			lintian(t, debPath(t, dir, name, testVersion2))
		})
	}
}

func testDeb(t *testing.T, name, deb1, deb2 string) {
	short := strings.TrimPrefix(name, "vigil-")
	conf := "/etc/vigil/" + short + ".toml"
	unit := "/lib/systemd/system/" + name + ".service"
	state := "/var/lib/vigil/" + short
	wants := "/etc/systemd/system/multi-user.target.wants/" + name + ".service"

	// What the package ships, and which of it was on the machine before
	// (/etc, /usr/bin, ...): after purge, only that may remain.
	var shipped []string
	for _, f := range strings.Fields(run(t, "sh", "-c", "dpkg-deb -c '"+deb1+"' | awk '{print $6}'")) {
		shipped = append(shipped, filepath.Clean(strings.TrimPrefix(f, ".")))
	}
	existed := map[string]bool{}
	for _, p := range append(shipped, state, "/var/lib/vigil") {
		if _, err := os.Lstat(p); err == nil {
			existed[p] = true
		}
	}
	_, err := user.Lookup("vigil")
	hadUser := err == nil

	t.Cleanup(func() {
		if out, err := exec.Command("dpkg", "-P", name).CombinedOutput(); err != nil {
			t.Errorf("cleanup: dpkg -P %s: %v\n%s", name, err, out)
		}
		if !hadUser {
			if out, err := exec.Command("userdel", "vigil").CombinedOutput(); err != nil {
				t.Logf("cleanup: userdel vigil: %v\n%s", err, out)
			}
			// userdel usually removes the group too; this is for when it did not.
			_ = exec.Command("groupdel", "vigil").Run()
		}
	})

	// Install.
	run(t, "dpkg", "-i", deb1)
	out := run(t, "/usr/bin/"+name, "--version")
	if !strings.Contains(out, testVersion1) || !strings.Contains(out, "commit "+testCommit) {
		t.Errorf("/usr/bin/%s --version printed %q, want version %s and commit %s", name, out, testVersion1, testCommit)
	}
	u, err := user.Lookup("vigil")
	if err != nil {
		t.Fatalf("postinst did not create the user vigil: %v", err)
	}
	if uid, _ := strconv.Atoi(u.Uid); uid >= 1000 || uid == 0 {
		t.Errorf("vigil has uid %d, want a system uid", uid)
	}
	if sh := run(t, "getent", "passwd", "vigil"); !strings.Contains(sh, "nologin") {
		t.Errorf("vigil can log in: %s", sh)
	}
	checkFile(t, "/usr/bin/"+name, 0o755, "root", "root")
	checkFile(t, "/etc/vigil", fs.ModeDir|0o755, "root", "root")
	checkFile(t, conf, 0o640, "root", "vigil")
	checkFile(t, unit, 0o644, "root", "root")
	checkFile(t, "/var/lib/vigil", fs.ModeDir|0o755, "root", "root")
	checkFile(t, state, fs.ModeDir|0o750, "vigil", "vigil")
	if name == "vigil-agent" {
		checkFile(t, "/usr/lib/vigil/plugins", fs.ModeDir|0o755, "root", "root")
		installedPassesStrictModes(t)
	}
	if c := run(t, "dpkg-query", "-W", "-f", "${Conffiles}", name); !strings.Contains(c, conf) {
		t.Errorf("%s is not a conffile: %q", conf, c)
	}
	if _, err := exec.LookPath("systemctl"); err == nil {
		if _, err := os.Lstat(wants); err != nil {
			t.Errorf("postinst did not enable %s: %v", name, err)
		}
	}
	if _, err := os.Stat("/run/systemd/system"); err != nil {
		if pids := running("/usr/bin/" + name); len(pids) > 0 {
			t.Errorf("postinst started %s (pids %v) on a machine without systemd", name, pids)
		}
	}
	if _, err := exec.LookPath("systemd-analyze"); err == nil {
		if out, err := exec.Command("systemd-analyze", "verify", unit).CombinedOutput(); err != nil {
			t.Errorf("systemd-analyze verify %s: %v\n%s", unit, err, out)
		}
	}

	// Upgrade: the administrator's config and the state stay.
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, "# changed by the administrator")
	f.Close()
	if err := os.WriteFile(state+"/kept", []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, "dpkg", "-i", deb2)
	if v := run(t, "dpkg-query", "-W", "-f", "${Version}", name); v != strings.TrimPrefix(testVersion2, "v") {
		t.Errorf("after the upgrade dpkg has version %q", v)
	}
	if b, _ := os.ReadFile(conf); !strings.Contains(string(b), "# changed by the administrator") {
		t.Errorf("the upgrade replaced the changed %s", conf)
	}
	checkFile(t, conf, 0o640, "root", "vigil")
	checkFile(t, state+"/kept", 0o600, "root", "root")

	// Remove: the program goes, config and state stay.
	run(t, "dpkg", "-r", name)
	for _, p := range []string{"/usr/bin/" + name, unit, wants} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("dpkg -r left %s", p)
		}
	}
	for _, p := range []string{conf, state + "/kept"} {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("dpkg -r removed %s: %v", p, err)
		}
	}

	// Purge: nothing of the package is left.
	run(t, "dpkg", "-P", name)
	if exec.Command("dpkg", "-s", name).Run() == nil {
		t.Errorf("dpkg still knows %s after purge", name)
	}
	for _, p := range append(shipped, state, "/var/lib/vigil") {
		if _, err := os.Lstat(p); err == nil && !existed[p] {
			t.Errorf("dpkg -P left %s", p)
		}
	}
}

// checkFile checks a file's type, permissions and owners.
func checkFile(t *testing.T, path string, mode fs.FileMode, owner, group string) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Error(err)
		return
	}
	if fi.Mode() != mode {
		t.Errorf("%s: mode %v, want %v", path, fi.Mode(), mode)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if u, err := user.LookupId(strconv.Itoa(int(st.Uid))); err != nil || u.Username != owner {
		t.Errorf("%s: owner uid %d, want %s", path, st.Uid, owner)
	}
	if g, err := user.LookupGroupId(strconv.Itoa(int(st.Gid))); err != nil || g.Name != group {
		t.Errorf("%s: group gid %d, want %s", path, st.Gid, group)
	}
}

// running lists the pids of processes running exe.
func running(exe string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if target, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err == nil &&
			strings.TrimSuffix(target, " (deleted)") == exe {
			pids = append(pids, pid)
		}
	}
	return pids
}

// lintian must find no errors in the package.
func lintian(t *testing.T, deb string) {
	if _, err := exec.LookPath("lintian"); err != nil {
		t.Skip("skipped: lintian not installed (.ci/run installs it from Debian)")
	}
	out, err := exec.Command("lintian", "--tag-display-limit", "0", deb).CombinedOutput()
	var errs []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "E: ") {
			errs = append(errs, l)
		}
	}
	var exit *exec.ExitError
	if len(errs) > 0 || (err != nil && !errors.As(err, &exit)) {
		t.Errorf("lintian %s: %v\n%s", filepath.Base(deb), err, out)
	}
	t.Logf("lintian %s:\n%s", filepath.Base(deb), out)
}

// installedPassesStrictModes runs the installed agent as the service's
// user vigil on what the package installed: the config loads (root:vigil
// 0640 is neither writable nor owned by others) and a plugin that root put
// in /usr/lib/vigil/plugins runs (every directory up to / is root's and
// not group- or world-writable).
func installedPassesStrictModes(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("runuser"); err != nil {
		t.Log("runuser not found: the installed files are not run as vigil")
		return
	}
	plugin := "/usr/lib/vigil/plugins/vigil-deb-test.sh"
	if err := os.WriteFile(plugin, []byte("#!/bin/sh\necho 'status ok packaged'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(plugin)
	if out, err := exec.Command("runuser", "-u", "vigil", "--", "/usr/bin/vigil-agent", "check", "--plugin", plugin).CombinedOutput(); err != nil || !strings.Contains(string(out), "packaged") {
		t.Errorf("the packaged plugin directory does not pass the plugin rules: %v\n%s", err, out)
	}
	if out, err := exec.Command("runuser", "-u", "vigil", "--", "/usr/bin/vigil-agent", "check", "--config", "/etc/vigil/agent.toml", "load").CombinedOutput(); err != nil {
		t.Errorf("the packaged config does not load as vigil: %v\n%s", err, out)
	}
}
