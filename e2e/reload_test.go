package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SIGHUP adds a check without reconnecting; a broken config is refused and
// the running checks go on.
func TestReload(t *testing.T) {
	e := setup(t, "1s")
	conf := filepath.Join(e.dir, "agent.toml")
	base, _ := os.ReadFile(conf)
	start(t, e.coll, "run", "--config", filepath.Join(e.dir, "collector.toml"))
	ag := start(t, e.agent, "run", "--config", conf)
	read := e.token(t, "read-token")
	waitFor(t, 15*time.Second, "first cpu points", func() bool {
		_, a, _ := e.query(t, read, "agent=e2e-host&check=cpu&metric=count&from=-5m")
		return len(a.Series) == 1
	})

	plugin := seqPlugin(t, e.dir)
	added := string(base) + fmt.Sprintf("\n[plugins.seq]\npath = %q\ninterval = \"1s\"\n", plugin)
	writeFile(t, conf, []byte(added), 0o600)
	if out, err := exec.Command(e.agent, "reload", "--config", conf).CombinedOutput(); err != nil {
		t.Fatalf("vigil-agent reload: %v %s", err, out)
	}
	waitFor(t, 15*time.Second, "the added plugin's points", func() bool { return len(seqValues(t, e, e.http)) >= 2 })
	if n := strings.Count(ag.output(), "connected to collector"); n != 1 {
		t.Fatalf("agent connected %d times; reload must keep the session:\n%s", n, ag.output())
	}

	// A broken config: `vigil-agent reload` says so itself, and a SIGHUP
	// makes the agent log the refusal and keep running.
	writeFile(t, conf, []byte(added+"\n[agent]\nbogus = 1\n"), 0o600)
	if out, err := exec.Command(e.agent, "reload", "--config", conf).CombinedOutput(); err == nil || !strings.Contains(string(out), "keeps its config") {
		t.Fatalf("reload of a broken config: %v %s", err, out)
	}
	if err := ag.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the refusal", func() bool { return strings.Contains(ag.output(), "reload refused") })
	before := lastSeq(t, e.dir)
	time.Sleep(3 * time.Second)
	if lastSeq(t, e.dir) <= before {
		t.Fatal("the plugin stopped after a refused reload")
	}
	if ag.cmd.ProcessState != nil {
		t.Fatal("agent exited on SIGHUP")
	}
}
