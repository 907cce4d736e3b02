package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// seqPlugin writes a plugin that reports one more than its last run as the
// metric seq, so a test knows exactly which points must arrive.
func seqPlugin(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "seq.sh")
	script := fmt.Sprintf(`#!/bin/sh
f=%q
n=$(cat "$f" 2>/dev/null || echo 0)
n=$((n+1))
echo "$n" > "$f.tmp" && mv "$f.tmp" "$f"
echo "status ok"
echo "metric seq int64 $n"
`, filepath.Join(dir, "seq.state"))
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// lastSeq is the plugin's counter: the number of runs so far.
func lastSeq(t *testing.T, dir string) int {
	b, _ := os.ReadFile(filepath.Join(dir, "seq.state"))
	var n int
	if _, err := fmt.Sscan(strings.TrimSpace(string(b)), &n); err != nil {
		return 0 // not written yet
	}
	return n
}

// seqAgent adds the sequence plugin at a 1 s interval, and only it, to the
// dev agent config, plus extra TOML for [transport] and [spool].
func seqAgent(t *testing.T, e *env, transport, spool string) {
	t.Helper()
	conf := filepath.Join(e.dir, "agent.toml")
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if transport != "" {
		s = strings.Replace(s, "[transport]\n", "[transport]\n"+transport+"\n", 1)
	}
	s += "\n[spool]\n" + spool + "\n"
	for _, c := range []string{"cpu", "memory", "filesystem", "disk", "network", "load", "system"} {
		s += fmt.Sprintf("\n[checks.%s]\nenabled = false\n", c)
	}
	// A generous timeout: on a loaded machine a slow run makes the next
	// slots skip rather than be killed after counting up (a gap).
	s += fmt.Sprintf("\n[plugins.seq]\npath = %q\ninterval = \"1s\"\ntimeout = \"20s\"\nformat = \"cloudkick\"\n", seqPlugin(t, e.dir))
	if err := os.WriteFile(conf, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// seqValues returns every stored seq value of agent e2e-host, or nil
// while the collector cannot answer.
func seqValues(t *testing.T, e *env, httpAddr string) []int {
	saved := e.http
	e.http = httpAddr
	defer func() { e.http = saved }()
	code, a, _ := e.query(t, e.token(t, "read-token"), "agent=e2e-host&check=plugin.seq&metric=seq&from=-30m&points=11000")
	if code != 200 {
		return nil // the collector is starting or down
	}
	var out []int
	for _, s := range a.Series {
		for _, p := range s.Points {
			out = append(out, int(p[1]))
		}
	}
	sort.Ints(out)
	return out
}

// checkExactlyOnce fails unless values are 1..n, each once, apart from at
// most allowedGaps missing values.
func checkExactlyOnce(t *testing.T, values []int, n, allowedGaps int) {
	t.Helper()
	seen := map[int]int{}
	for _, v := range values {
		seen[v]++
	}
	var dups, missing []int
	for v, c := range seen {
		if c > 1 {
			dups = append(dups, v)
		}
	}
	for v := 1; v <= n; v++ {
		if seen[v] == 0 {
			missing = append(missing, v)
		}
	}
	if len(dups) > 0 {
		t.Fatalf("sequence numbers stored more than once: %v", dups)
	}
	if len(missing) > allowedGaps {
		t.Fatalf("%d of %d sequence numbers missing: %v", len(missing), n, missing)
	}
}

// waitDelivered waits until the collector at httpAddr has every value up to
// the plugin's counter as read at the start of the wait.
func waitDelivered(t *testing.T, e *env, httpAddrs []string, d time.Duration) (int, []int) {
	t.Helper()
	n := lastSeq(t, e.dir)
	var got []int
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		got = got[:0]
		for _, a := range httpAddrs {
			got = append(got, seqValues(t, e, a)...)
		}
		sort.Ints(got)
		if len(got) > 0 && got[len(got)-1] >= n && len(got) >= n {
			return n, got
		}
		time.Sleep(500 * time.Millisecond)
	}
	return n, got
}

func kill(p *proc) {
	p.cmd.Process.Signal(syscall.SIGKILL) //nolint:errcheck // teardown: the process may have exited or been killed already
	p.cmd.Wait()                          //nolint:errcheck // killed: its status is "killed"
}

func TestCollectorKilledRepeatedly(t *testing.T) {
	soak(t)
	e := setup(t, "1s")
	seqAgent(t, e, "ack_timeout = \"2s\"\nreconnect_max = \"2s\"", "")
	collConf := filepath.Join(e.dir, "collector.toml")
	coll := start(t, e.coll, "run", "--config", collConf)
	start(t, e.agent, "run", "--config", filepath.Join(e.dir, "agent.toml"))
	end := time.Now().Add(40 * time.Second)
	for time.Now().Before(end) {
		time.Sleep(3 * time.Second)
		kill(coll)
		time.Sleep(time.Second)
		coll = start(t, e.coll, "run", "--config", collConf)
	}
	n, got := waitDelivered(t, e, []string{e.http}, 30*time.Second)
	if n < 15 {
		t.Fatalf("only %d plugin runs in 40 s", n)
	}
	checkExactlyOnce(t, got, n, 0)
}

func TestAgentKilledAndRestarted(t *testing.T) {
	soak(t)
	e := setup(t, "1s")
	seqAgent(t, e, "", "")
	start(t, e.coll, "run", "--config", filepath.Join(e.dir, "collector.toml"))
	agentConf := filepath.Join(e.dir, "agent.toml")
	ag := start(t, e.agent, "run", "--config", agentConf)
	for i := 0; i < 3; i++ {
		time.Sleep(4 * time.Second)
		kill(ag)
		ag = start(t, e.agent, "run", "--config", agentConf)
	}
	time.Sleep(3 * time.Second)
	n, got := waitDelivered(t, e, []string{e.http}, 20*time.Second)
	// A plugin run in progress when the agent dies counts up but its result
	// never reaches the spool: one gap per kill at most.
	checkExactlyOnce(t, got, n, 3)
}

func TestOutageDrains(t *testing.T) {
	soak(t)
	e := setup(t, "1s")
	seqAgent(t, e, "reconnect_max = \"2s\"", "")
	agentConf := filepath.Join(e.dir, "agent.toml")
	ag := start(t, e.agent, "run", "--config", agentConf)
	// No collector for the first 30 s: everything waits in the spool.
	time.Sleep(30 * time.Second)
	if !strings.Contains(ag.output(), "cannot reach collector") {
		t.Fatalf("agent did not report the outage:\n%s", ag.output())
	}
	start(t, e.coll, "run", "--config", filepath.Join(e.dir, "collector.toml"))
	n, got := waitDelivered(t, e, []string{e.http}, 30*time.Second)
	// A loaded CI machine skips some 1 s runs; what matters is that every
	// run that happened arrives.
	if n < 10 {
		t.Fatalf("only %d runs during the outage", n)
	}
	checkExactlyOnce(t, got, n, 0)
}

func TestFailoverAndReturn(t *testing.T) {
	e := setup(t, "1s")
	// A second collector with a copy of the first one's store (tokens).
	dir2 := filepath.Join(e.dir, "second")
	if err := os.MkdirAll(dir2, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-r", filepath.Join(e.dir, "collector"), dir2).CombinedOutput(); err != nil {
		t.Fatalf("copy store: %v %s", err, out)
	}
	quic2, http2 := freeUDP(t), freeTCP(t)
	conf1, _ := os.ReadFile(filepath.Join(e.dir, "collector.toml"))
	conf2 := strings.NewReplacer(e.quic, quic2, e.http, http2, filepath.Join(e.dir, "collector"), filepath.Join(dir2, "collector")).Replace(string(conf1))
	conf2Path := filepath.Join(dir2, "collector.toml")
	writeFile(t, conf2Path, []byte(conf2), 0o600)

	agentConf := filepath.Join(e.dir, "agent.toml")
	b, _ := os.ReadFile(agentConf)
	writeFile(t, agentConf, []byte(strings.Replace(string(b), fmt.Sprintf("collectors = [%q]", e.quic),
		fmt.Sprintf("collectors = [%q, %q]", e.quic, quic2), 1)), 0o600)
	seqAgent(t, e, "ack_timeout = \"1s\"\nprobe_interval = \"2s\"\nreconnect_max = \"2s\"", "")

	c1 := start(t, e.coll, "run", "--config", filepath.Join(e.dir, "collector.toml"))
	start(t, e.coll, "run", "--config", conf2Path)
	ag := start(t, e.agent, "run", "--config", agentConf)
	waitFor(t, 15*time.Second, "points at the preferred collector", func() bool { return len(seqValues(t, e, e.http)) >= 3 })

	kill(c1)
	killed := time.Now()
	var failover time.Duration
	waitFor(t, 15*time.Second, "points at the second collector", func() bool {
		if len(seqValues(t, e, http2)) > 0 {
			failover = time.Since(killed)
			return true
		}
		return false
	})
	t.Logf("failover: first point stored at the second collector %v after the first was killed", failover.Round(100*time.Millisecond))
	if failover > 5*time.Second {
		t.Errorf("failover took %v, target 5 s", failover)
	}

	before := len(seqValues(t, e, e.http))
	start(t, e.coll, "run", "--config", filepath.Join(e.dir, "collector.toml"))
	waitFor(t, 20*time.Second, "return to the preferred collector", func() bool {
		return len(seqValues(t, e, e.http)) > before+2 && strings.Contains(ag.output(), "returning to a preferred collector")
	})
	n, got := waitDelivered(t, e, []string{e.http, http2}, 20*time.Second)
	// Across two stores a batch whose Ack was lost in the kill may be in
	// both; none may be missing.
	seen := map[int]bool{}
	for _, v := range got {
		seen[v] = true
	}
	for v := 1; v <= n; v++ {
		if !seen[v] {
			t.Fatalf("sequence number %d missing across both collectors", v)
		}
	}
}

func TestSpoolLimitDropsOldest(t *testing.T) {
	soak(t)
	e := setup(t, "1s")
	seqAgent(t, e, "reconnect_max = \"1s\"", "max_bytes = 65536")
	// A plugin with many metrics fills 64 KiB in a few seconds.
	big := filepath.Join(e.dir, "big.sh")
	writeFile(t, big, []byte("#!/bin/sh\necho 'status ok'\ni=0\nwhile [ $i -lt 300 ]; do echo \"metric m$i gauge $i\"; i=$((i+1)); done\n"), 0o755)
	conf := filepath.Join(e.dir, "agent.toml")
	b, _ := os.ReadFile(conf)
	writeFile(t, conf, append(b, []byte(fmt.Sprintf("\n[plugins.big]\npath = %q\ninterval = \"1s\"\n", big))...), 0o600)

	ag := start(t, e.agent, "run", "--config", conf)
	waitFor(t, 40*time.Second, "the spool to drop", func() bool { return strings.Contains(ag.output(), "dropped") })
	spoolDir := filepath.Join(e.dir, "agent", "spool")
	var size int64
	entries, _ := os.ReadDir(spoolDir)
	for _, en := range entries {
		if info, err := en.Info(); err == nil {
			size += info.Size()
		}
	}
	if size > 65536+16<<10 {
		t.Fatalf("spool holds %d bytes, limit 65536", size)
	}
	start(t, e.coll, "run", "--config", filepath.Join(e.dir, "collector.toml"))
	n, got := waitDelivered(t, e, []string{e.http}, 30*time.Second)
	if len(got) == 0 || got[len(got)-1] < n {
		t.Fatalf("newest sequence number %d not delivered: %v", n, got)
	}
	if got[0] == 1 {
		t.Fatalf("oldest points were kept although the spool was full: %v", got)
	}
	// The drop is reported as a self-metric.
	code, a, body := e.query(t, e.token(t, "read-token"), "agent=e2e-host&check=agent&metric=dropped_points&from=-30m")
	if code != 200 || len(a.Series) != 1 || a.Series[0].Points[len(a.Series[0].Points)-1][1] <= 0 {
		t.Fatalf("dropped_points self-metric: %s", body)
	}
}

func TestCorruptSpoolTailSurvived(t *testing.T) {
	e := setup(t, "1s")
	seqAgent(t, e, "reconnect_max = \"1s\"", "")
	conf := filepath.Join(e.dir, "agent.toml")
	ag := start(t, e.agent, "run", "--config", conf)
	time.Sleep(5 * time.Second) // no collector: batches pile up in the spool
	kill(ag)
	segs, _ := filepath.Glob(filepath.Join(e.dir, "agent", "spool", "*.seg"))
	if len(segs) == 0 {
		t.Fatal("no spool segment")
	}
	sort.Strings(segs)
	last := segs[len(segs)-1]
	info, _ := os.Stat(last)
	if err := os.Truncate(last, info.Size()-3); err != nil { // a torn last record
		t.Fatal(err)
	}
	ag = start(t, e.agent, "run", "--config", conf)
	start(t, e.coll, "run", "--config", filepath.Join(e.dir, "collector.toml"))
	n, got := waitDelivered(t, e, []string{e.http}, 30*time.Second)
	// The torn record is lost; everything before and after it arrives.
	checkExactlyOnce(t, got, n, 2)
	if len(got) < n-2 {
		t.Fatalf("got %d of %d", len(got), n)
	}
	_ = ag
}

func TestHTTPSFallbackWhenQUICBlocked(t *testing.T) {
	e := setup(t, "1s")
	conf := filepath.Join(e.dir, "agent.toml")
	b, _ := os.ReadFile(conf)
	// QUIC goes to a port where nothing listens; the API answers over HTTP
	// (plain HTTP is allowed on loopback).
	blocked := freeUDP(t)
	writeFile(t, conf, []byte(strings.Replace(string(b), fmt.Sprintf("collectors = [%q]", e.quic), fmt.Sprintf("collectors = [%q]", blocked), 1)), 0o600)
	seqAgent(t, e, fmt.Sprintf("https = \"http://%s\"\nreconnect_max = \"1s\"\nprobe_interval = \"5s\"", e.http), "")
	start(t, e.coll, "run", "--config", filepath.Join(e.dir, "collector.toml"))
	ag := start(t, e.agent, "run", "--config", conf)
	time.Sleep(8 * time.Second)
	n, got := waitDelivered(t, e, []string{e.http}, 20*time.Second)
	if n < 5 {
		t.Fatalf("only %d runs", n)
	}
	checkExactlyOnce(t, got, n, 0)
	if !strings.Contains(ag.output(), "sending over HTTPS") {
		t.Fatalf("agent did not say it fell back to HTTPS:\n%s", ag.output())
	}
}

// SIGTERM to the collector under load: it stops accepting, stores and acks
// the batches it has, closes the store, and exits 0; nothing acked is lost.
func TestCollectorGracefulStopUnderLoad(t *testing.T) {
	soak(t)
	e := setup(t, "1s")
	seqAgent(t, e, "reconnect_max = \"1s\"", "")
	big := filepath.Join(e.dir, "big.sh")
	writeFile(t, big, []byte("#!/bin/sh\necho 'status ok'\ni=0\nwhile [ $i -lt 500 ]; do echo \"metric m$i gauge $i\"; i=$((i+1)); done\n"), 0o755)
	conf := filepath.Join(e.dir, "agent.toml")
	b, _ := os.ReadFile(conf)
	writeFile(t, conf, append(b, []byte(fmt.Sprintf("\n[plugins.big]\npath = %q\ninterval = \"1s\"\n", big))...), 0o600)
	collConf := filepath.Join(e.dir, "collector.toml")
	coll := start(t, e.coll, "run", "--config", collConf)
	start(t, e.agent, "run", "--config", conf)
	for i := 0; i < 4; i++ {
		time.Sleep(3 * time.Second)
		coll.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // Wait below reports how it ended
		if err := coll.cmd.Wait(); err != nil {
			t.Fatalf("collector exit after SIGTERM: %v\n%s", err, coll.output())
		}
		if !strings.Contains(coll.output(), "collector stopped") {
			t.Fatalf("collector did not log a clean stop:\n%s", coll.output())
		}
		coll = start(t, e.coll, "run", "--config", collConf)
	}
	n, got := waitDelivered(t, e, []string{e.http}, 30*time.Second)
	checkExactlyOnce(t, got, n, 0)
}
