// Command agentfootprint measures vigil-agent's steady-state footprint: it
// starts a collector and an agent with the default checks (dev mode, in a
// temporary directory, on free loopback ports), samples the agent's RSS
// and CPU time from /proc, and prints the figures. `make bench-agent` runs it.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
	cpu0, err := readCPU(pid)
	if err != nil {
		return err
	}
	t0 := time.Now()
	var rss, anon, file []int
	for end := t0.Add(duration); time.Now().Before(end); {
		time.Sleep(5 * time.Second)
		m, err := readMem(pid)
		if err != nil {
			return fmt.Errorf("agent exited? %w\n%s", err, agentLog.String())
		}
		rss, anon, file = append(rss, m.rss), append(anon, m.anon), append(file, m.file)
	}
	cpu1, err := readCPU(pid)
	if err != nil {
		return err
	}
	elapsed := time.Since(t0)
	fmt.Printf("RSS: median %.1f MB, max %.1f MB (%d samples)\n", median(rss), maxMB(rss), len(rss))
	fmt.Printf("     anon median %.1f MB (max %.1f), file median %.1f MB (max %.1f)\n", median(anon), maxMB(anon), median(file), maxMB(file))
	ns := cpu1.ns - cpu0.ns
	fmt.Printf("CPU: %.3f s over %v = %.4f %% of one core (on-CPU time, schedstat, %d threads)\n",
		float64(ns)/1e9, elapsed.Round(time.Second), 100*float64(ns)/float64(elapsed), cpu1.threads)
	const ticksPerSec = 100 // USER_HZ on Linux
	ticks := cpu1.ticks - cpu0.ticks
	fmt.Printf("     cross-check: %d clock ticks (utime+stime) = %.3f %%\n", ticks, 100*float64(ticks)/ticksPerSec/elapsed.Seconds())
	if cpu1.threads != cpu0.threads {
		fmt.Printf("     threads went from %d to %d: the on-CPU time of threads that ended is missing\n", cpu0.threads, cpu1.threads)
	}
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

// stop ends c, by SIGKILL if SIGTERM takes over 10 s. The measurement is
// over by then, so how the process ends does not matter, and it may have
// exited already.
func stop(c *exec.Cmd) {
	_ = c.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = c.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = c.Process.Kill()
	}
}

// median and maxMB take samples in kB and return MB.
func median(kb []int) float64 {
	s := slices.Sorted(slices.Values(kb))
	return float64(s[len(s)/2]) / 1024
}

func maxMB(kb []int) float64 { return float64(slices.Max(kb)) / 1024 }

type mem struct{ rss, anon, file int } // kB

// readMem reads VmRSS, RssAnon and RssFile (shared memory, RssShmem, is
// left out: the agent has none) from /proc/PID/status.
func readMem(pid int) (mem, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return mem{}, err
	}
	var m mem
	found := 0
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var dst *int
		switch k {
		case "VmRSS":
			dst = &m.rss
		case "RssAnon":
			dst = &m.anon
		case "RssFile":
			dst = &m.file
		default:
			continue
		}
		if *dst, err = strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB")); err != nil {
			return mem{}, fmt.Errorf("/proc/%d/status: %s: %w", pid, k, err)
		}
		found++
	}
	if found != 3 {
		return mem{}, fmt.Errorf("/proc/%d/status lacks VmRSS, RssAnon or RssFile", pid)
	}
	return m, nil
}

type cpu struct {
	ns      int64 // on-CPU time of the live threads
	threads int
	ticks   int64 // utime+stime of the process, threads that ended included
}

// readCPU reads the process's CPU time two ways. The first field of
// /proc/PID/task/TID/schedstat is the thread's on-CPU time in ns; summed
// over the threads it resolves a cycle's work, where utime+stime from
// /proc/PID/stat counts whole 10 ms ticks (about 20 in a 10 minute run of
// the agent). The Go runtime keeps its threads, so the sum misses nothing
// unless the thread count changes, which the caller reports.
func readCPU(pid int) (cpu, error) {
	var c cpu
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return c, err
	}
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, t.Name()))
		if err != nil {
			continue // the thread ended meanwhile
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			return c, fmt.Errorf("/proc/%d/task/%s/schedstat is empty", pid, t.Name())
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return c, fmt.Errorf("/proc/%d/task/%s/schedstat: %w", pid, t.Name(), err)
		}
		c.ns += ns
		c.threads++
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return c, err
	}
	// The command name may hold spaces; fields after its closing paren are fixed.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	c.ticks = utime + stime
	return c, nil
}
