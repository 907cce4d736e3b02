// Command agentfootprint measures vigil-agent's steady-state footprint: it
// starts a collector and an agent with the default checks (dev mode, in a
// temporary directory, on free loopback ports), samples the agent's RSS
// and CPU time from /proc, and prints the figures. `make bench-agent` runs it.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	bin := flag.String("bin", "bin", "directory holding vigil-agent and vigil-collector")
	duration := flag.Duration("duration", 10*time.Minute, "how long to measure after the warm-up")
	warmup := flag.Duration("warmup", time.Minute, "time before measuring starts")
	interval := flag.Duration("interval", 10*time.Second, "agent check interval")
	flag.Parse()
	if err := run(*bin, *duration, *warmup, *interval); err != nil {
		fmt.Fprintln(os.Stderr, "agentfootprint:", err)
		os.Exit(1)
	}
}

func run(bin string, duration, warmup, interval time.Duration) error {
	dir, err := os.MkdirTemp("", "vigil-footprint")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	quic, httpAddr := freePort("udp"), freePort("tcp")
	setup := exec.Command(filepath.Join(bin, "vigil-collector"), "dev-setup", "--dir", dir, "--quic", quic, "--http", httpAddr, "--interval", interval.String())
	if out, err := setup.CombinedOutput(); err != nil {
		return fmt.Errorf("dev-setup: %v\n%s", err, out)
	}
	var collLog, agentLog bytes.Buffer
	coll := exec.Command(filepath.Join(bin, "vigil-collector"), "run", "--config", filepath.Join(dir, "collector.toml"))
	coll.Stderr = &collLog
	if err := coll.Start(); err != nil {
		return err
	}
	defer stop(coll)
	agent := exec.Command(filepath.Join(bin, "vigil-agent"), "run", "--config", filepath.Join(dir, "agent.toml"))
	agent.Stderr = &agentLog
	if err := agent.Start(); err != nil {
		return err
	}
	defer stop(agent)
	pid := agent.Process.Pid

	fmt.Printf("agent pid %d, checks every %v; warming up for %v, then measuring for %v\n", pid, interval, warmup, duration)
	time.Sleep(warmup)
	cpu0, err := cpuTicks(pid)
	if err != nil {
		return err
	}
	t0 := time.Now()
	var rss []int
	for end := t0.Add(duration); time.Now().Before(end); {
		time.Sleep(5 * time.Second)
		kb, err := rssKB(pid)
		if err != nil {
			return fmt.Errorf("agent exited? %w\n%s", err, agentLog.String())
		}
		rss = append(rss, kb)
	}
	cpu1, err := cpuTicks(pid)
	if err != nil {
		return err
	}
	elapsed := time.Since(t0)
	sort.Ints(rss)
	const ticksPerSec = 100 // USER_HZ on Linux
	cpuSec := float64(cpu1-cpu0) / ticksPerSec
	fmt.Printf("RSS: median %.1f MB, max %.1f MB (%d samples)\n", float64(rss[len(rss)/2])/1024, float64(rss[len(rss)-1])/1024, len(rss))
	fmt.Printf("CPU: %.2f s over %v = %.3f %% of one core\n", cpuSec, elapsed.Round(time.Second), 100*cpuSec/elapsed.Seconds())
	if strings.Contains(agentLog.String(), "level=ERROR") {
		fmt.Printf("agent logged errors:\n%s", agentLog.String())
	}
	return nil
}

func freePort(network string) string {
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		defer c.Close()
		return c.LocalAddr().String()
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func stop(c *exec.Cmd) {
	c.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { c.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		c.Process.Kill()
	}
}

// rssKB reads VmRSS from /proc/PID/status.
func rssKB(pid int) (int, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// cpuTicks is utime+stime from /proc/PID/stat, in clock ticks.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces; fields after its closing paren are fixed.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return utime + stime, nil
}
