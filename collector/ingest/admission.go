package ingest

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigilmon/vigil/protocol"
)

// Admission bounds the agent handshakes in progress. A collector that
// restarts meets its whole fleet at once; past MaxPending handshakes it
// answers Hello with Reject UNAVAILABLE and a retry_after drawn from 1 s
// to RetryAfterMax, which agents honour, so the herd is spread over that
// time rather than queued behind the store.
type Admission struct {
	// MaxPending is how many handshakes (connection accepted to agent
	// recorded as connected) may be in progress; 0: no limit.
	MaxPending int
	// RetryAfterMax bounds the retry_after of a busy Reject (default 5s).
	RetryAfterMax time.Duration

	pending atomic.Int64

	logMu     sync.Mutex
	loggedAt  time.Time
	unlogged  int // busy refusals since the last log line
	logPeriod time.Duration
}

// begin counts a handshake in progress; end must follow it.
func (a *Admission) begin() { a.pending.Add(1) }
func (a *Admission) end()   { a.pending.Add(-1) }

// busy reports whether the handshakes in progress (this one included) are
// over the limit, and then the retry_after to tell the agent, in seconds.
func (a *Admission) busy() (uint32, bool) {
	if a.MaxPending <= 0 || a.pending.Load() <= int64(a.MaxPending) {
		return 0, false
	}
	maxS := int64(a.RetryAfterMax / time.Second)
	if maxS < 1 {
		maxS = 5
	}
	return uint32(1 + rand.N(maxS)), true
}

// helloRefused is a Hello the collector refused, with the reason it is
// counted under in /metrics.
type helloRefused struct {
	reason string
	msg    string
}

func (e *helloRefused) Error() string { return e.msg }

// reasonBusy counts the Rejects of Admission; the others are counted by
// their Reject code.
const reasonBusy = "busy"

func rejectReason(code protocol.Reject_Code) string {
	return strings.ToLower(strings.TrimPrefix(code.String(), "CODE_"))
}

// refused counts and logs a refused Hello. Busy refusals come by the
// hundred when a fleet reconnects: they are logged at most once per 10 s,
// with how many there were.
func (s *Server) refused(log *slog.Logger, err error) {
	var hr *helloRefused
	if !errors.As(err, &hr) {
		s.Metrics.HelloRefused("no_hello")
		log.Warn("agent refused", "err", err)
		return
	}
	s.Metrics.HelloRefused(hr.reason)
	if hr.reason != reasonBusy {
		log.Warn("agent refused", "err", err)
		return
	}
	a := &s.Admission
	a.logMu.Lock()
	defer a.logMu.Unlock()
	a.unlogged++
	period := a.logPeriod
	if period == 0 {
		period = 10 * time.Second
	}
	if time.Since(a.loggedAt) < period {
		return
	}
	log.Warn("agents told to come back later: too many handshakes in progress",
		"refused", a.unlogged, "max_pending", a.MaxPending, "retry_after_max", a.RetryAfterMax,
		"since", a.loggedAt.Format(time.RFC3339))
	a.loggedAt = time.Now()
	a.unlogged = 0
}

// now is the time told to agents in Welcome.
func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// busyReject is the Reject of an agent refused by Admission.
func busyReject(retry uint32, pending int64) (*protocol.Reject, error) {
	msg := fmt.Sprintf("the collector is busy with %d agent handshakes; retrying in %d s", pending, retry)
	return &protocol.Reject{Code: protocol.Reject_CODE_UNAVAILABLE, Message: msg, RetryAfterS: retry},
		&helloRefused{reason: reasonBusy, msg: msg}
}
