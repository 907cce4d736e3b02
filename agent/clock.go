package agent

import (
	"sync/atomic"
	"time"

	"github.com/vigilmon/vigil/agent/transport"
)

// clockWatch holds this host's clock offset from its collector's, measured
// at each Welcome. The agent stamps every result with its own clock, so an
// offset is how far off its points are filed; the collector refuses those
// more than 10 minutes in its future (in_future).
type clockWatch struct {
	// warnAt is transport.clock_offset_warn: a larger offset is logged.
	warnAt   time.Duration
	offsetMS atomic.Int64
	known    atomic.Bool
}

// offset is the collector's clock minus this host's, once a Welcome has
// been received.
func (c *clockWatch) offset() (time.Duration, bool) {
	return time.Duration(c.offsetMS.Load()) * time.Millisecond, c.known.Load()
}

// checkClock records the offset measured by sess's Hello and warns when
// it is beyond clock_offset_warn; it runs at each connect, so a clock
// fixed meanwhile shows at the next one.
func (s *sender) checkClock(sess *transport.Session) {
	off := sess.ClockOffset
	s.clock.offsetMS.Store(off.Milliseconds())
	s.clock.known.Store(true)
	if s.clock.warnAt > 0 && off.Abs() > s.clock.warnAt {
		s.log.Warn("this host's clock differs from the collector's: results are stamped with this host's clock, "+
			"so they are filed off by this much, and refused (in_future) when more than 10m ahead of the collector; sync the clock (NTP)",
			"collector", sess.Addr, "clock_offset_seconds", off.Seconds(), "clock_offset_warn", s.clock.warnAt)
	}
}
