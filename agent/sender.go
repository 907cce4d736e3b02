package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigilmon/vigil/agent/spool"
	"github.com/vigilmon/vigil/agent/transport"
	"github.com/vigilmon/vigil/internal/lograte"
	"github.com/vigilmon/vigil/protocol"
)

// errPreferredBack ends a session when a preferred collector answers again.
var errPreferredBack = errors.New("a preferred collector is back")

// sender keeps one session to the most preferred collector that welcomes
// the agent and sends every spooled batch on it, oldest first. A batch
// leaves the spool only when its Ack arrives.
type sender struct {
	collectors []string
	tls        transport.TLSConfig
	hello      *protocol.Hello
	sp         *spool.Spool
	log        *slog.Logger
	ackTimeout time.Duration
	probeEvery time.Duration
	backoffMin time.Duration
	backoffMax time.Duration
	// https, when set, carries batches where no QUIC collector can be
	// reached (UDP blocked); QUIC is tried again every probeEvery.
	https *transport.HTTPSClient

	sent      atomic.Uint64 // batches acked
	latencyMS atomic.Int64  // of the last ack
	active    atomic.Value  // string: the collector in use, "" when none
	logs      lograte.Limiter

	clock clockWatch
}

func (s *sender) run(ctx context.Context) {
	defer s.logs.Close()
	s.active.Store("")
	bo := newBackoff(s.backoffMin, s.backoffMax)
	next := 0 // index of the collector to try first
	for ctx.Err() == nil {
		connected := false
		for k := range s.collectors {
			i := (next + k) % len(s.collectors)
			sess, err := s.dial(ctx, s.collectors[i])
			for sess != nil {
				connected = true
				bo.reset()
				s.log.Info("connected to collector", "collector", sess.Addr, "session", sess.Welcome.GetSessionId(), "preference", i+1)
				s.checkClock(sess)
				var better *transport.Session
				better, i, err = s.serve(ctx, sess, i)
				sess.Close("agent closing session")
				s.active.Store("")
				if ctx.Err() != nil {
					return
				}
				if better != nil {
					s.log.Info("returning to a preferred collector", "from", sess.Addr, "to", better.Addr)
				} else {
					s.log.Warn("lost collector", "collector", sess.Addr, "err", err)
				}
				sess = better
			}
			if connected {
				// The active collector failed: move on to the next one.
				next = (i + 1) % len(s.collectors)
				break
			}
			s.logDialError(ctx, s.collectors[i], err, bo)
		}
		if connected {
			// Whatever ended the session (a collector restart, a network
			// cut) most likely ended the whole fleet's at the same moment:
			// the first retry comes within reconnect_min, drawn at random,
			// not at once from every agent.
			if !sleepCtx(ctx, rand.N(s.backoffMin)) {
				return
			}
			continue
		}
		if s.https != nil {
			if err := s.serveHTTPS(ctx); err == nil {
				bo.reset()
				continue // HTTPS worked for a while: try QUIC again
			} else if ctx.Err() == nil {
				s.log.Warn("HTTPS fallback failed", "url", s.https.URL(), "err", err)
			}
		}
		// Every collector failed: wait, then start again from the
		// preferred one.
		next = 0
		if !sleepCtx(ctx, bo.next()) {
			return
		}
	}
}

func (s *sender) logDialError(ctx context.Context, addr string, err error, bo *backoff) {
	var rej *transport.RejectError
	switch {
	case errors.As(err, &rej) && rej.Code == protocol.Reject_CODE_UNAVAILABLE:
		// A busy collector is not a fault of this agent: it says when to
		// come back, and the agent does.
		s.log.Warn("collector busy; retrying when it asked", "collector", addr, "retry_after", rej.RetryAfter, "reason", rej.Message)
		bo.collectorAsked(rej.RetryAfter)
	case errors.As(err, &rej):
		s.log.Error("collector refused this agent", "collector", addr, "code", rej.Code.String(), "reason", rej.Message)
		bo.collectorAsked(rej.RetryAfter)
	case ctx.Err() == nil:
		s.log.Warn("cannot reach collector", "collector", addr, "err", err)
	}
}

func (s *sender) dial(ctx context.Context, addr string) (*transport.Session, error) {
	tc, err := s.tls.Load(addr)
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return transport.Dial(dctx, addr, tc, s.hello)
}

// serve sends batches on sess (collector number idx) until the session
// fails or ctx ends. While on a collector other than the first, it probes
// the preferred ones and returns the session of one that answers.
func (s *sender) serve(ctx context.Context, sess *transport.Session, idx int) (*transport.Session, int, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	s.active.Store(sess.Addr)
	var better *transport.Session
	betterIdx := idx
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		select {
		case <-sess.Done():
			cancel(fmt.Errorf("connection closed: %w", sess.Err()))
		case <-ctx.Done():
		}
	})
	if idx > 0 {
		wg.Go(func() {
			if p, j := s.probe(ctx, idx); p != nil {
				better, betterIdx = p, j
				cancel(errPreferredBack)
			}
		})
	}

	slots := make(chan struct{}, sess.MaxInflight())
	var sends sync.WaitGroup
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		seq, payload, err := s.sp.NextRaw(ctx)
		if err != nil {
			<-slots
			if ctx.Err() == nil {
				cancel(err)
			}
			break
		}
		sends.Go(func() {
			defer func() { <-slots }()
			s.send(ctx, cancel, sess, seq, payload)
		})
	}
	sends.Wait()
	err := context.Cause(ctx)
	if errors.Is(err, errPreferredBack) {
		wg.Wait()
		return better, betterIdx, nil
	}
	wg.Wait()
	if better != nil {
		// The preferred collector answered just as this session failed.
		better.Close("agent closing session")
	}
	return nil, idx, err
}

// send delivers one spooled batch on sess. A batch the collector refuses
// stays spooled and is sent again on the same session: after the wait the
// collector asks for (RETRY_LATER: its store is slow, not gone, so
// reconnecting or failing over would only add load), or after a growing
// backoff (BAD_FRAME: resending at once would loop hot). Any other failure
// ends the session.
func (s *sender) send(ctx context.Context, cancel context.CancelCauseFunc, sess *transport.Session, seq uint64, payload []byte) {
	for attempt := 0; ; attempt++ {
		actx, acancel := context.WithTimeout(ctx, s.ackTimeout)
		begin := time.Now()
		ack, err := sess.SendRaw(actx, seq, payload)
		acancel()
		if err == nil {
			s.acked(seq, ack, time.Since(begin))
			return
		}
		var ref *transport.RefusalError
		if !errors.As(err, &ref) || ref.Code == protocol.Refusal_CODE_REVOKED {
			s.sp.Release(seq)
			cancel(err)
			return
		}
		wait := s.refusalWait(ref, attempt)
		s.logs.Warn(s.log, "collector refused a batch; it stays in the spool", ref.Code.String(),
			"collector", sess.Addr, "seq", seq, "why", ref.Message, "retry_in", wait.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			s.sp.Release(seq)
			return
		case <-time.After(wait):
		}
	}
}

// refusalWait is how long to wait before resending a refused batch,
// jittered so that agents refused together do not come back together.
func (s *sender) refusalWait(ref *transport.RefusalError, attempt int) time.Duration {
	if ref.Code == protocol.Refusal_CODE_RETRY_LATER {
		d := max(ref.RetryAfter, 100*time.Millisecond)
		if ref.RetryAfter == 0 {
			d = time.Second
		}
		return d + rand.N(d/2+1)
	}
	d := s.backoffMin
	for range min(attempt, 30) {
		d = min(2*d, s.backoffMax)
	}
	return d/2 + rand.N(d/2+1)
}

// probe dials the collectors preferred to number idx, on a probeSchedule
// from reconnect_min up to probe_interval, until one welcomes the agent
// (its session and number are returned) or ctx ends.
func (s *sender) probe(ctx context.Context, idx int) (*transport.Session, int) {
	ps := &probeSchedule{step: s.backoffMin, max: s.probeEvery}
	for sleepCtx(ctx, ps.next()) {
		for j := 0; j < idx; j++ {
			if p, err := s.dial(ctx, s.collectors[j]); err == nil {
				return p, j
			}
		}
	}
	return nil, 0
}

// serveHTTPS sends spooled batches, one at a time, with POST /v1/ingest for
// probeEvery, then returns so that QUIC is tried again. It returns an error
// when no batch could be delivered.
func (s *sender) serveHTTPS(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.probeEvery)
	defer cancel()
	s.log.Info("no collector reachable over QUIC: sending over HTTPS", "url", s.https.URL())
	s.active.Store(s.https.URL())
	defer s.active.Store("")
	for {
		b, err := s.sp.Next(ctx)
		if err != nil {
			return nil // the period is over
		}
		begin := time.Now()
		ack, err := s.https.Send(ctx, b)
		if err != nil {
			s.sp.Release(b.Seq)
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		s.acked(b.Seq, ack, time.Since(begin))
	}
}

// acked removes an acknowledged batch from the spool and counts it.
func (s *sender) acked(seq uint64, ack *protocol.Ack, took time.Duration) {
	if err := s.sp.Ack(seq); err != nil {
		s.log.Error("spool: record ack", "seq", seq, "err", err)
	}
	s.sent.Add(1)
	s.latencyMS.Store(took.Milliseconds())
	if ack.Rejected > 0 {
		s.log.Warn("collector rejected points", "seq", seq, "rejected", ack.Rejected, "errors", ack.Errors)
	}
}
