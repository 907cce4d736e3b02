// Package alarm holds alarms on check results, as pure code: the
// Rackspace Cloud Monitoring alarm language (parsed, printed, evaluated)
// and the state machine that turns evaluations into transitions. It does
// no I/O, starts no goroutines and reads no clock; the collector feeds it
// results and the time, persists its state and sends notifications.
//
// collector/alarmeval evaluates at ingest and keeps Machine states in the
// store under an evaluation lease. Not yet wired: Tick (NO_DATA), Hold and
// Agent (AGENT_DOWN), the /v1/ alarm API and suppressions.
//
// # The criteria language
//
// Rackspace users can paste their alarms. Parse accepts:
//
//	:set consecutiveCount=3        # optional settings, before any statement
//	/* comments: '#' to the end of the line, or C style */
//	if (metric['used_percent'] > 90) {
//	  return new AlarmStatus(CRITICAL, 'disk #{used_percent}% full on #{mount}');
//	} else if (metric['used_percent'] > 80 && rate(metric['writes']) > 1000) {
//	  return new AlarmStatus(WARNING);
//	}
//	return new AlarmStatus(OK);
//
// In detail:
//
//   - Settings: ':set consecutiveCount=N' (1 to 5, default 1): observations
//     in a row before the state changes. ':set recoveryCount=N' (1 to 5,
//     a Vigil extension, default consecutiveCount): OK observations in a
//     row before a return to OK. ':set consistencyLevel=ONE|QUORUM|ALL' is
//     accepted and kept for pasted alarms but has no effect: one agent
//     runs each check, there are no zones to agree.
//   - Statements: 'if (condition) { ... }' with 'else if' and 'else'
//     (braces required), and 'return new AlarmStatus(STATE)' or
//     'return new AlarmStatus(STATE, "message")' with STATE one of OK,
//     WARNING, CRITICAL; the older 'return STATE, "message"' form of
//     Rackspace's how-to articles is read too. Semicolons are optional.
//     Statements run in order; the first return reached decides.
//   - Conditions: comparisons joined with && and || (&& binds tighter)
//     and grouped with parentheses. Operators: == != < <= > >= on
//     numbers; == != on strings; regex and nregex with a string literal on
//     the right (Go RE2 syntax, unanchored: 'OpenSSH' matches anywhere,
//     use ^ and $ to anchor).
//   - Values: metric['name'] (or "name"), previous(metric['name']) (the
//     previous result's value), rate(metric['name']) ((V1-V0)/(T1-T0) per
//     second between the previous result and this one; a counter reset
//     gives a negative rate), percentage(a, b) (100·a/b), numbers
//     (-200, 2773.2, 1.2e-7) and strings in single or double quotes with
//     the escapes \" \' \\ \b \f \n \r \t \uXXXX; any other backslash is
//     kept, so '^\d+\.\d+$' is the regex it looks like.
//   - Messages: #{name} is replaced by the metric's value in this result;
//     a metric the result lacks is left as written. Without a message the
//     check's own message is used.
//   - '//' is not a comment (the reference says so); Parse says where it
//     is rather than guess.
//
// Types: a comparison with a string literal compares text (a numeric
// metric compares as it prints, so metric['code'] == "404" matches an HTTP
// code sent as a number); ordering operators compare numbers, and a string
// metric counts if it parses as one. Two metrics compare as strings when
// both are strings, as numbers otherwise.
//
// Missing values: a comparison that reads a metric the result lacks (or
// previous() and rate() without a previous result, rate() over no time,
// percentage() of a zero total, a NaN) is false, whatever its operator,
// so != does not fire on an absent metric. The reference does not spell
// this out; its banner example (CRITICAL when metric['banner_matched'] !=
// "" finds no metric) relies on it.
//
// Limits, each refused with an *Error naming line:column and the rule:
// 16 KiB of text, 10 conditionals (if and else if, the reference's limit),
// 100 comparisons, nesting 16 deep, metric names up to 128 bytes,
// compared strings and regexes up to 256 bytes, messages up to 256 bytes
// (the reference's 80 and 128 characters are exceeded rather than
// enforced, so no alarm Rackspace accepted is refused), and regexes of at
// most 300 compiled instructions each and 1,000 together, which bounds
// what one evaluation can cost (a few tens of milliseconds for hostile
// regexes on a 4 KiB string, BenchmarkEvaluateWorstRegex; microseconds
// for ordinary ones).
//
// # Evaluation
//
// Criteria.Evaluate runs on one Result (scheduled time, status, message,
// metrics as a slice of name and number or string) and the check's
// previous Result. A result whose status is
// unknown (the check could not run) gives StateUnknown without evaluating
// the criteria; Rackspace calls that CRITICAL, Vigil keeps "could not
// look" apart from "looked and found it bad". When no return is reached
// (or the criteria are empty) the check's own status decides: ok, warn and
// crit give OK, WARNING and CRITICAL. Evaluation allocates nothing unless
// a message substitutes metrics.
//
// Labelled metrics: a Splitter turns a protocol.CheckResult into one
// Instance per label set (a filesystem result into one per mount), each
// with the unlabelled metrics too and its labels readable as string
// metrics (metric['mount'] == '/', #{mount}); an alarm is evaluated and
// tracked per instance, keyed by Instance.Key. The caller keeps each
// instance's previous result with Result.Keep(Criteria.PreviousMetrics()).
// A Splitter reuses its memory and interns keys: splitting a 3-mount
// filesystem result, evaluating and observing each instance takes about
// 1 µs of CPU and allocates nothing (BenchmarkSplitAndEvaluate).
//
// # States and the state machine
//
// States: NONE (nothing settled yet), OK, WARNING, CRITICAL, UNKNOWN (the
// check could not run), NO_DATA (no result for a while) and AGENT_DOWN
// (the agent's session is gone; for Agent only).
//
// A Machine is the state of one alarm for one agent; Settings (the
// check's period and the criteria's counts) are passed to every call, so
// editing an alarm rewrites no state. Its rules:
//
//   - Counting: a state other than the current one must be observed
//     Trigger (consecutiveCount) times in a row to be entered, or
//     Recovery times for OK. Any other observation restarts the count, so
//     a flapping check does not notify. Transitions are values: from, to,
//     the scheduled time of the observation that completed the count, and
//     its message. A new alarm's first settled state is a transition from
//     NONE (a notifier will usually record NONE → OK without sending it).
//   - Order: observations must come in scheduled-time order; one not newer
//     than the latest seen is ignored (EffectStale), so a batch delivered
//     twice counts once.
//   - Late results: an observation older than 1.5 × max(Trigger,
//     Recovery) × period when it arrives is ignored (EffectLate), the
//     reference's rule: a spooled batch delivered after an outage updates
//     history but never fires. The scheduled time comes from the agent's
//     clock and now from the collector's: the caller must put both on one
//     clock (correct for a measured offset), or an agent whose clock runs
//     behind by more than the window has every result ignored as late.
//   - NO_DATA: Tick, called by the caller's clock, moves the alarm to
//     NO_DATA once no result has been scheduled for NoDataAfter periods
//     (default 3) since the last result, the first use, or the last
//     Release. Leaving NO_DATA takes the usual counts.
//   - AGENT_DOWN: when an agent's session ends, Hold each of its check
//     alarms (observations and ticks are then ignored, the state stays)
//     and call Agent.Disconnected; Agent.Tick raises one AGENT_DOWN
//     transition for the agent after a grace period, so a reconnect or a
//     move to another collector raises nothing. On reconnect,
//     Agent.Connected gives AGENT_DOWN → OK and Release resumes the check
//     alarms, with NO_DATA counted from then.
//
// Machine and Agent encode with MarshalBinary (a version byte, a few
// bytes of state, varint times in milliseconds and the message) for the
// store; UnmarshalBinary refuses anything malformed.
//
// # Suppressions
//
// A Suppression (maintenance window) silences the transitions in its
// Scope (lists of agents, checks and alarms; an empty list matches all;
// a tag selector is the planned extension) while one of its Windows (1
// to 16) is active. NotifyOnRecovery lets transitions to OK through, so
// a team hears that the service came back; where several suppressions
// apply, one that silences wins. A Matcher indexes suppressions by
// alarm, agent or check, and Matcher.Suppressed answers per transition
// with a reason naming the suppression, allocating nothing (about
// 0.15 to 1 µs with 100 suppressions, BenchmarkSuppressed).
//
// ParseWindow reads a window, at most 256 bytes; String prints it back:
//
//	2026-12-24T18:00:00+01:00/2026-12-27T08:00:00+01:00  one-shot, RFC 3339, at most 366 days
//	daily 23:30-00:30 UTC                                every day; an end not after the start is the next day's
//	weekdays 12:00-13:00 America/New_York                Monday to Friday
//	weekly Sat,Sun 02:00-04:00 Europe/Berlin             Sun, Mon, Tue, Wed, Thu, Fri, Sat (any case)
//	monthly 1,15,last 03:00-05:00 America/New_York       days of the month, or last
//
// A recurring window belongs to the day it starts on (weekly Sun
// 23:00-01:00 runs into Monday) and spans less than 24 hours of wall
// clock (start and end must differ), so it is shorter than its period. Its zone is an IANA name or UTC; "Local" is refused,
// since which collector evaluates must not matter, and the zone data is
// built in (time/tzdata), so hosts without zoneinfo work. A day the month
// lacks is skipped, as cron does: monthly 31 has no February window; use
// last for the month's end.
//
// Times are wall-clock times in the zone, and a window runs from the
// first instant the clock reads its start (or later) to the first
// instant it reads its end. So across DST changes: a time in the hour
// clocks skip becomes the end of the gap (02:30 on a spring-forward day
// in Europe/Berlin starts at 03:00 CEST, as cron runs jobs of the skipped
// hour then; a window lying wholly inside the gap has no occurrence that
// day), and a time that repeats when clocks go back counts at its first
// occurrence (02:00-02:30 on the fall-back day is the first half hour,
// CEST; 01:00-04:00 lasts four hours). Window.Next and Suppression.Next
// give the span that contains a time or the next one, for UIs, joining
// windows that touch or overlap (for up to a year); Active(t) is exactly
// start <= t < end.
package alarm
