// Package agent runs the checks of one server on their schedules and
// delivers every result to a collector.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/vigilmon/vigil/agent/check"
	"github.com/vigilmon/vigil/agent/config"
	"github.com/vigilmon/vigil/agent/plugin"
	"github.com/vigilmon/vigil/agent/transport"
	"github.com/vigilmon/vigil/protocol"
)

// Version is stamped at build time.
var Version = "dev"

const (
	batchMaxResults = 500
	batchMaxDelay   = time.Second
	ackTimeout      = 10 * time.Second
	backoffMin      = time.Second
	backoffMax      = 60 * time.Second
	// drainTimeout bounds how long a stopping agent keeps delivering what
	// it still holds.
	drainTimeout = 3 * time.Second
)

// Run runs the agent until ctx is cancelled.
func Run(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	if len(cfg.Transport.Collectors) == 0 {
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

	q := newQueue(cfg.Agent.QueueBatches)
	results := make(chan *protocol.CheckResult, 256)
	sched := &scheduler{log: log, out: results}
	b := &batcher{in: results, q: q, log: log}
	s := &sender{collectors: cfg.Transport.Collectors, tls: tc, hello: hello, q: q, log: log}

	checkCtx, stopChecks := context.WithCancel(context.Background())
	sendCtx, stopSending := context.WithCancel(context.Background())
	var batching, sending sync.WaitGroup
	batching.Go(b.run)
	sending.Go(func() { s.run(sendCtx) })
	sched.start(checkCtx, jobs)
	log.Info("agent started", "checks", len(jobs), "collectors", cfg.Transport.Collectors, "version", Version)

	<-ctx.Done()
	log.Info("agent stopping")
	stopChecks()
	sched.wait()
	close(results) // the batcher queues what it holds, then returns
	batching.Wait()
	deadline := time.Now().Add(drainTimeout)
	for q.len() > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	stopSending()
	sending.Wait()
	if n := q.len(); n > 0 {
		log.Warn("agent stopped with batches not delivered", "batches", n)
	} else {
		log.Info("agent stopped")
	}
	return nil
}

// pluginGrace is how much longer than a plugin's own timeout the scheduler
// waits, so the runner's kill and its message come first.
const pluginGrace = 2 * time.Second

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

// batcher groups results into batches: at most batchMaxResults, held at
// most batchMaxDelay, so a quiet agent still sends promptly.
type batcher struct {
	in  <-chan *protocol.CheckResult
	q   *queue
	log *slog.Logger
	seq uint64
}

func (b *batcher) run() {
	var pending []*protocol.CheckResult
	var flush <-chan time.Time
	var timer *time.Timer
	emit := func() {
		if len(pending) == 0 {
			return
		}
		b.seq++
		if dropped := b.q.push(&protocol.Batch{Seq: b.seq, Results: pending}); dropped > 0 {
			b.log.Warn("queue full: dropped oldest results", "dropped_results", dropped)
		}
		pending = nil
		flush = nil
	}
	for {
		select {
		case r, ok := <-b.in:
			if !ok {
				emit()
				return
			}
			pending = append(pending, r)
			if len(pending) >= batchMaxResults {
				emit()
			} else if flush == nil {
				if timer == nil {
					timer = time.NewTimer(batchMaxDelay)
				} else {
					timer.Reset(batchMaxDelay)
				}
				flush = timer.C
			}
		case <-flush:
			emit()
		}
	}
}

// sender keeps one session to the first collector that welcomes the agent
// and sends every queued batch on it.
type sender struct {
	collectors []string
	tls        transport.TLSConfig
	hello      *protocol.Hello
	q          *queue
	log        *slog.Logger
}

func (s *sender) run(ctx context.Context) {
	backoff := backoffMin
	for ctx.Err() == nil {
		for _, addr := range s.collectors {
			sess, err := s.dial(ctx, addr)
			if err != nil {
				var rej *transport.RejectError
				if errors.As(err, &rej) {
					s.log.Error("collector refused this agent", "collector", addr, "code", rej.Code.String(), "reason", rej.Message)
					if rej.RetryAfter > backoff {
						backoff = rej.RetryAfter
					}
				} else if ctx.Err() == nil {
					s.log.Warn("cannot reach collector", "collector", addr, "err", err)
				}
				continue
			}
			backoff = backoffMin
			s.log.Info("connected to collector", "collector", addr, "session", sess.Welcome.GetSessionId())
			err = s.serve(ctx, sess)
			sess.Close("agent closing session")
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("lost collector", "collector", addr, "err", err)
			break
		}
		// Full jitter keeps a fleet that lost its collector from returning
		// in lockstep.
		wait := rand.N(backoff) + 100*time.Millisecond
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		backoff = min(2*backoff, backoffMax)
	}
}

func (s *sender) dial(ctx context.Context, addr string) (*transport.Session, error) {
	tc, err := s.tls.Load(addr)
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return transport.Dial(dctx, addr, tc, s.hello)
}

// serve sends batches until the session fails or ctx ends.
func (s *sender) serve(ctx context.Context, sess *transport.Session) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-sess.Done():
			cancel(errors.New("connection closed"))
		case <-ctx.Done():
		}
	}()
	slots := make(chan struct{}, sess.MaxInflight())
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		b, err := s.q.next(ctx)
		if err != nil {
			<-slots
			return context.Cause(ctx)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			actx, acancel := context.WithTimeout(ctx, ackTimeout)
			defer acancel()
			begin := time.Now()
			ack, err := sess.Send(actx, b)
			if err != nil {
				s.q.release(b.Seq)
				cancel(err)
				return
			}
			s.q.ack(b.Seq)
			s.log.Debug("batch acked", "seq", b.Seq, "accepted", ack.Accepted, "rejected", ack.Rejected, "latency", time.Since(begin))
			if ack.Rejected > 0 {
				s.log.Warn("collector rejected points", "seq", b.Seq, "rejected", ack.Rejected, "errors", ack.Errors)
			}
		}()
	}
}
