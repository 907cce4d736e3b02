package e2e

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// svc runs a service command of the agent and returns its output and exit
// status.
func svc(t *testing.T, bin string, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	}
	t.Fatalf("%s %s: %v", filepath.Base(bin), strings.Join(args, " "), err)
	return "", 0
}

func mustSvc(t *testing.T, bin string, wantCode int, wantOut string, args ...string) {
	t.Helper()
	out, code := svc(t, bin, args...)
	if code != wantCode || !strings.Contains(out, wantOut) {
		t.Fatalf("vigil-agent %s: exit %d, output %q; want exit %d and %q", strings.Join(args, " "), code, out, wantCode, wantOut)
	}
}

// pidsOf lists the processes running the executable exe.
func pidsOf(exe string) []int {
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

// TestService installs the agent as a service of the init system
// kardianos/service finds here (SysV init in CI), starts it, sees its
// points arrive at a test collector, stops and uninstalls it.
func TestService(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("skipped: the service test runs on Linux")
	}
	if os.Geteuid() != 0 {
		t.Skip("skipped: installing a service needs root (CI runs as root)")
	}
	agentBin, _ := binaries(t)
	out, code := svc(t, agentBin, "status")
	if code != 4 {
		t.Skipf("skipped: a vigil-agent service is already installed on this machine (%s); this test would replace it", strings.TrimSpace(out))
	}
	if _, err := exec.LookPath("service"); err != nil && strings.Contains(out, "unix-systemv") {
		t.Skip("skipped: kardianos/service picked SysV init, which it drives with service(8), and service is not installed (Debian: init-system-helpers)")
	}
	notRoot(t, agentBin)

	e := setup(t, "1s")
	start(t, e.coll, "run", "--config", filepath.Join(e.dir, "collector.toml"))
	read := e.token(t, "read-token")

	// kardianos' SysV script logs to /var/log/vigil-agent.{log,err}.
	logs := []string{"/var/log/vigil-agent.log", "/var/log/vigil-agent.err"}
	var newLogs []string
	for _, l := range logs {
		if _, err := os.Stat(l); err != nil {
			newLogs = append(newLogs, l)
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, l := range logs {
				if b, err := os.ReadFile(l); err == nil {
					t.Logf("%s:\n%s", l, b)
				}
			}
		}
		if out, code := svc(t, agentBin, "uninstall"); code != 0 && !strings.Contains(out, "not installed") {
			t.Errorf("cleanup: vigil-agent uninstall: %s", out)
		}
		for _, pid := range pidsOf(agentBin) {
			t.Errorf("cleanup: agent pid %d still running after uninstall; killing it", pid)
			syscall.Kill(pid, syscall.SIGKILL) //nolint:errcheck // best effort: the error above already fails the test
		}
		for _, l := range newLogs {
			os.Remove(l)
		}
	})

	conf := filepath.Join(e.dir, "agent.toml")
	mustSvc(t, agentBin, 0, "installed vigil-agent", "install", "--config", conf)
	mustSvc(t, agentBin, 1, "already installed", "install", "--config", conf)
	mustSvc(t, agentBin, 3, "stopped", "status")
	if pids := pidsOf(agentBin); len(pids) != 0 {
		t.Fatalf("install started the agent (pids %v)", pids)
	}

	mustSvc(t, agentBin, 0, "started", "start")
	mustSvc(t, agentBin, 0, "running", "status")
	waitFor(t, 30*time.Second, "the service's points at the collector", func() bool {
		code, a, _ := e.query(t, read, "agent=e2e-host&check=cpu&metric=usage_percent&from=-5m")
		return code == 200 && len(a.Series) == 1 && len(a.Series[0].Points) >= 2
	})
	if pids := pidsOf(agentBin); len(pids) != 1 {
		t.Fatalf("%d agent processes run, want 1: %v", len(pids), pids)
	}
	// The service runs the installed command line.
	pid := pidsOf(agentBin)[0]
	cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if got, want := strings.ReplaceAll(string(cmdline), "\x00", " "), agentBin+" run --config "+conf+" "; got != want {
		t.Errorf("service runs %q, want %q", got, want)
	}

	mustSvc(t, agentBin, 0, "stopped vigil-agent", "stop")
	mustSvc(t, agentBin, 3, "stopped", "status")
	if pids := pidsOf(agentBin); len(pids) != 0 {
		t.Fatalf("agent still runs after stop (pids %v)", pids)
	}
	// restart of a stopped service starts it.
	mustSvc(t, agentBin, 0, "restarted", "restart")
	mustSvc(t, agentBin, 0, "running", "status")

	// uninstall stops the running service first.
	mustSvc(t, agentBin, 0, "uninstalled vigil-agent", "uninstall")
	mustSvc(t, agentBin, 4, "not installed", "status")
	if pids := pidsOf(agentBin); len(pids) != 0 {
		t.Fatalf("agent still runs after uninstall (pids %v)", pids)
	}
	left, _ := filepath.Glob("/etc/rc?.d/*vigil-agent")
	if _, err := os.Lstat("/etc/init.d/vigil-agent"); err == nil {
		left = append(left, "/etc/init.d/vigil-agent")
	}
	if len(left) > 0 {
		t.Errorf("uninstall left %v", left)
	}
	mustSvc(t, agentBin, 1, "not installed", "uninstall")
	mustSvc(t, agentBin, 1, "not installed", "start")
}

// notRoot: install and uninstall need root, status does not.
func notRoot(t *testing.T, agentBin string) {
	dir, err := os.MkdirTemp("", "vigil-e2e-nobody")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	chmod(t, dir, 0o755)
	bin := filepath.Join(dir, "vigil-agent")
	src, err := os.Open(agentBin)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	dst.Close()
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"install"}, 1, "install: run as root"},
		{[]string{"uninstall"}, 1, "uninstall: run as root"},
		{[]string{"status"}, 4, "not installed"},
	} {
		cmd := exec.Command(bin, c.args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != c.code || !strings.Contains(string(out), c.want) {
			t.Errorf("as nobody, vigil-agent %s: exit %d, %q; want exit %d and %q", c.args[0], code, out, c.code, c.want)
		}
	}
}
