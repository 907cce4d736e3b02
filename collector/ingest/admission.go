package ingest

import (
	"errors"
	"fmt"
	"math/rand/v2"
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
		&helloRefusal{"busy", errors.New(msg)}
}
