package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSpoolOnFullDisk runs the real agent with its state directory on a
// 512 KiB tmpfs, far below the spool's max_bytes, while no collector runs.
// Today the agent logs "cannot spool results; they are lost" for every new
// batch once the disk is full, dropped_points stays 0 and nothing is freed
// after the collector returns. Required: the oldest batches are dropped and
// counted, the newest results and the agent check keep coming, and once the
// collector has acked the backlog the spool's files shrink, without a
// restart.
func TestSpoolOnFullDisk(t *testing.T) {
	soak(t)
	e := setup(t, "1s")
	state := filepath.Join(e.dir, "agent")
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", state, "tmpfs", 0, "size=512k,mode=0700"); err != nil {
		t.Skipf("cannot mount a small tmpfs for the agent's state directory (needs root): %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(state, syscall.MNT_DETACH); err != nil {
			t.Errorf("cleanup: unmount %s: %v", state, err)
		}
	})

	seqAgent(t, e, "reconnect_max = \"1s\"", "")
	// Six plugins of 600 metrics each: about 70 KB a second fills the
	// tmpfs in well under a minute.
	big := filepath.Join(e.dir, "big.sh")
	writeFile(t, big, []byte("#!/bin/sh\necho 'status ok'\ni=0\nwhile [ $i -lt 600 ]; do echo \"metric m$i gauge $i\"; i=$((i+1)); done\n"), 0o755)
	conf := filepath.Join(e.dir, "agent.toml")
	b, _ := os.ReadFile(conf)
	for i := range 6 {
		b = append(b, fmt.Sprintf("\n[plugins.big%d]\npath = %q\ninterval = \"1s\"\n", i, big)...)
	}
	writeFile(t, conf, b, 0o600)

	ag := start(t, e.agent, "run", "--config", conf)
	waitFor(t, 90*time.Second, "the agent to drop its oldest batches on the full disk", func() bool {
		return strings.Contains(ag.output(), "disk full: dropped the oldest batches")
	})
	// The first drop takes the one segment the backlog was in; from then
	// on segments are smaller, and a second drop takes only the oldest.
	waitFor(t, 60*time.Second, "a second drop on the full disk", func() bool {
		return strings.Count(ag.output(), "disk full: dropped the oldest batches") >= 2
	})
	if strings.Contains(ag.output(), "cannot spool results") {
		t.Fatalf("the agent lost new results on the full disk:\n%s", ag.output())
	}

	outageEnd := time.Now()
	start(t, e.coll, "run", "--config", filepath.Join(e.dir, "collector.toml"))
	n, got := waitDelivered(t, e, []string{e.http}, 60*time.Second)
	if len(got) == 0 || got[len(got)-1] < n {
		t.Fatalf("newest sequence number %d not delivered: %v", n, got)
	}
	if got[0] == 1 {
		t.Fatalf("the oldest points were kept although the disk was full: %v", got[:10])
	}
	read := e.token(t, "read-token")
	code, a, body := e.query(t, read, "agent=e2e-host&check=agent&metric=dropped_points&from=-30m")
	if code != 200 || len(a.Series) != 1 || a.Series[0].Points[len(a.Series[0].Points)-1][1] <= 0 {
		t.Fatalf("dropped_points self-metric: %s", body)
	}
	// The agent check reported during the outage, from the full disk.
	code, a, body = e.query(t, read, "agent=e2e-host&check=agent&metric=spool_bytes&from=-30m")
	var during int
	if code == 200 && len(a.Series) == 1 {
		for _, p := range a.Series[0].Points {
			if t := int64(p[0]); t > outageEnd.Add(-10*time.Second).UnixMilli() && t <= outageEnd.UnixMilli() {
				during++
			}
		}
	}
	if during < 3 {
		t.Fatalf("the agent check did not keep reporting while the disk was full (%d points in the last 10 s): %s", during, body)
	}
	// With the backlog acked, the spool's files shrink without a restart.
	spoolDir := filepath.Join(state, "spool")
	var size int64
	waitFor(t, 30*time.Second, "the spool's files to shrink", func() bool {
		size = 0
		entries, _ := os.ReadDir(spoolDir)
		for _, en := range entries {
			if info, err := en.Info(); err == nil {
				size += info.Size()
			}
		}
		return size < 192<<10
	})
	if strings.Contains(ag.output(), "cannot spool results") {
		t.Fatalf("the agent lost new results:\n%s", ag.output())
	}
}
