// Package agent runs the checks of one server on their schedules and
// delivers every result to a collector.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/vigilmon/vigil/agent/check"
	"github.com/vigilmon/vigil/agent/config"
	"github.com/vigilmon/vigil/agent/plugin"
	"github.com/vigilmon/vigil/agent/spool"
	"github.com/vigilmon/vigil/agent/transport"
	"github.com/vigilmon/vigil/protocol"
)

// Version is stamped at build time.
var Version = "dev"

const (
	batchMaxResults = 500
	// batchGather bounds how long a result waits in memory before it is
	// spooled (and so what a crash of the agent process can lose).
	batchGather = 100 * time.Millisecond
	// drainTimeout bounds how long a stopping agent keeps delivering what
	// it still holds.
	drainTimeout = 3 * time.Second
)

// Run runs the agent until ctx is cancelled. Each config received on
// reload replaces the checks and plugins without touching the collector
// session or the spool; transport and spool settings need a restart.
func Run(ctx context.Context, cfg *config.Config, log *slog.Logger, reload <-chan *config.Config) error {
	if len(cfg.Transport.Collectors) == 0 && cfg.Transport.HTTPS == "" {
		return errors.New("transport.collectors is empty: name at least one collector (host:port)")
	}
	if cfg.Agent.Token == "" {
		return errors.New("agent.token is empty: create one with `vigil-collector token create --role agent`")
	}
	log = log.With("agent", cfg.Agent.ID)
	jobs, err := buildJobs(cfg, log)
	if err != nil {
		return err
	}
	hostname, _ := os.Hostname()
	hello := &protocol.Hello{
		ProtocolVersion: protocol.Version,
		AgentId:         cfg.Agent.ID,
		Token:           cfg.Agent.Token,
		Hostname:        hostname,
		AgentVersion:    Version,
		Labels:          cfg.Agent.Labels,
	}
	tc := transport.TLSConfig{
		CAFile:     cfg.Transport.CAFile,
		ServerName: cfg.Transport.ServerName,
		CertFile:   cfg.Transport.CertFile,
		KeyFile:    cfg.Transport.KeyFile,
	}
	// Fail at start on unreadable TLS files rather than on every dial.
	for _, addr := range cfg.Transport.Collectors {
		if _, err := tc.Load(addr); err != nil {
			return err
		}
	}

	sp, err := spool.Open(filepath.Join(cfg.Agent.StateDir, "spool"), spool.Options{
		MaxBytes:     cfg.Spool.MaxBytes,
		Sync:         cfg.Spool.Sync,
		SyncInterval: cfg.Spool.SyncInterval.Duration,
		Logger:       log,
	})
	if err != nil {
		return fmt.Errorf("open spool: %w", err)
	}
	defer func() {
		if err := sp.Close(); err != nil {
			log.Error("close spool", "err", err)
		}
	}()
	// The pid file lets `vigil-agent reload` find this process.
	pidFile := PIDFile(cfg)
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	defer os.Remove(pidFile)
	if st := sp.Stats(); st.Batches > 0 {
		log.Info("spool holds undelivered batches from before; sending them first", "batches", st.Batches, "bytes", st.Bytes)
	}

	results := make(chan *protocol.CheckResult, 256)
	due := &dueSlots{}
	sched := &scheduler{log: log, out: results, due: due}
	b := &batcher{in: results, due: due, gather: batchGather, sp: sp, log: log}
	s := &sender{collectors: cfg.Transport.Collectors, tls: tc, hello: hello, sp: sp, log: log,
		ackTimeout: cfg.Transport.AckTimeout.Duration, probeEvery: cfg.Transport.ProbeInterval.Duration,
		backoffMin: cfg.Transport.ReconnectMin.Duration, backoffMax: cfg.Transport.ReconnectMax.Duration,
		clock: clockWatch{warnAt: cfg.Transport.ClockOffsetWarn.Duration}}
	if cfg.Transport.HTTPS != "" {
		if s.https, err = transport.NewHTTPSClient(cfg.Transport.HTTPS, tc, cfg.Agent.ID, cfg.Agent.Token, log); err != nil {
			return fmt.Errorf("transport.https: %w", err)
		}
	}
	self := &selfCheck{sp: sp, s: s}
	selfJob := func(c *config.Config) *job {
		return newJob(c.Agent.ID, selfCheckName, c.Agent.Interval.Duration, c.Agent.Interval.Duration, self)
	}
	jobs = append(jobs, selfJob(cfg))

	checkCtx, stopChecks := context.WithCancel(context.Background())
	sendCtx, stopSending := context.WithCancel(context.Background())
	var batching, sending sync.WaitGroup
	batching.Go(b.run)
	sending.Go(func() { s.run(sendCtx) })
	sched.start(checkCtx, jobs)
	log.Info("agent started", "checks", len(jobs), "collectors", cfg.Transport.Collectors, "version", Version)
	// Once start-up is over and every check has run, give back the pages
	// of the binary that only start-up needed, and the heap that only
	// start-up used (TLS and QUIC set-up, config parsing), which would
	// otherwise stay resident until the next collection and the
	// scavenger's slow return of free pages.
	release := time.AfterFunc(max(maxInterval(jobs), 30*time.Second)+5*time.Second, func() {
		debug.FreeOSMemory()
		releaseText()
	})
	defer release.Stop()

	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case next := <-reload:
			newJobs, err := buildJobs(next, log)
			if err != nil {
				log.Error("reload refused; the old checks keep running", "err", err)
				continue
			}
			if !reflect.DeepEqual(next.Transport, cfg.Transport) || next.Spool != cfg.Spool || next.Agent.ID != cfg.Agent.ID || next.Agent.Token != cfg.Agent.Token {
				log.Warn("reload: agent, transport and spool settings take effect at the next restart; checks are reloaded now")
			}
			stopChecks()
			sched.wait()
			newJobs = append(newJobs, selfJob(next))
			checkCtx, stopChecks = context.WithCancel(context.Background())
			sched = &scheduler{log: log, out: results, due: due}
			sched.start(checkCtx, newJobs)
			log.Info("config reloaded", "checks", len(newJobs))
		}
	}
	log.Info("agent stopping")
	stopChecks()
	sched.wait()
	close(results) // the batcher spools what it holds, then returns
	batching.Wait()
	// Give batches in flight a moment to be acked, so they are not sent
	// again after a restart; everything else waits in the spool.
	deadline := time.Now().Add(drainTimeout)
	for sp.Stats().InFlight > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	stopSending()
	sending.Wait()
	log.Info("agent stopped", "spooled_batches", sp.Stats().Batches)
	return nil
}

// PIDFile is where a running agent with this config writes its pid.
func PIDFile(cfg *config.Config) string { return filepath.Join(cfg.Agent.StateDir, "agent.pid") }

// pluginGrace is how much longer than a plugin's own timeout the scheduler
// waits, so the runner's kill and its message come first.
const pluginGrace = 2 * time.Second

func maxInterval(jobs []*job) time.Duration {
	var m time.Duration
	for _, j := range jobs {
		m = max(m, j.interval)
	}
	return m
}

func buildJobs(cfg *config.Config, log *slog.Logger) ([]*job, error) {
	var jobs []*job
	for name, cc := range cfg.Checks {
		f, ok := check.Lookup(name)
		if !ok {
			return nil, fmt.Errorf("check %q is not built in", name)
		}
		c, err := f.New(cc.Options)
		if err != nil {
			return nil, fmt.Errorf("checks.%s: %w", name, err)
		}
		jobs = append(jobs, newJob(cfg.Agent.ID, name, cc.Interval, cc.Timeout, c))
	}
	if len(cfg.Plugins) > 0 {
		runner := plugin.NewRunner(plugin.RunnerOptions{Dir: cfg.Agent.PluginDir, Concurrency: cfg.Agent.PluginConcurrency, Logger: log})
		for id, pc := range cfg.Plugins {
			c := runner.Check(pc.Plugin, id, pc.Interval)
			jobs = append(jobs, newJob(cfg.Agent.ID, id, pc.Interval, pc.Plugin.Timeout.Duration+pluginGrace, c))
		}
	}
	return jobs, nil
}

// batcher spools results as they come. The results of one slot (an
// agent's checks of one interval run together) arrive within milliseconds
// of each other: it gathers them into one batch, so one slot costs one
// spool append and one stream. It spools the batch as soon as the slot's
// last result is in and nothing else waits in the channel, or else after
// gather (a slow check's result then goes in a later batch). Under load
// batches grow up to batchMaxResults.
type batcher struct {
	in     <-chan *protocol.CheckResult
	due    *dueSlots
	gather time.Duration // batchGather
	sp     *spool.Spool
	log    *slog.Logger
}

func (b *batcher) run() {
	var pending []*protocol.CheckResult
	timer := time.NewTimer(0)
	<-timer.C
	for r := range b.in {
		pending = append(pending[:0], r)
		complete := b.due.done(r.TimestampMs)
		timer.Reset(b.gather)
	gather:
		for len(pending) < batchMaxResults && !(complete && len(b.in) == 0) {
			select {
			case r, ok := <-b.in:
				if !ok {
					break gather
				}
				pending = append(pending, r)
				complete = b.due.done(r.TimestampMs)
			case <-timer.C:
				break gather
			}
		}
		// Stopped before it fires, the timer costs no wake-up.
		timer.Stop()
		// The spool encodes the batch at once and keeps no reference to
		// it, so pending is reused. It logs and counts what it drops to
		// stay within its size.
		if _, _, err := b.sp.Append(pending); err != nil {
			points := 0
			for _, r := range pending {
				points += len(r.Metrics)
			}
			b.log.Error("cannot spool results; they are dropped and counted in dropped_points", "results", len(pending), "points", points, "err", err)
		}
	}
}
