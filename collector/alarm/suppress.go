package alarm

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	// Embedded zone data (about 450 KB), so a window in Europe/Berlin
	// works on hosts and containers without /usr/share/zoneinfo.
	_ "time/tzdata"
)

// Limits on suppressions, so one stored suppression cannot make matching
// expensive.
const (
	MaxWindowLen      = 256  // bytes of one window's text
	MaxWindows        = 16   // windows per suppression
	MaxScopeEntries   = 1000 // agents, checks and alarms of one suppression together
	MaxSuppressionID  = 128  // bytes
	maxOnceLength     = 366 * 24 * time.Hour
	maxZoneNameLength = 64
	stable            = 50 * time.Hour // see Window.Active
)

// Window is when a suppression applies: a one-shot interval or a
// recurring wall-clock window in a time zone. The zero Window is never
// active. Parse one with ParseWindow; String prints it back.
type Window struct {
	kind       windowKind
	start, end time.Time // once
	weekdays   uint8     // days: bit per time.Weekday
	monthdays  uint32    // monthly: bit d for day d (1-31), bit 0 for the last day
	from, to   int       // minutes after midnight; to <= from crosses midnight
	loc        *time.Location
}

type windowKind uint8

const (
	kindNone windowKind = iota
	kindOnce
	kindDays
	kindMonthly
)

const (
	allDays  = 1<<7 - 1
	weekDays = 1<<time.Monday | 1<<time.Tuesday | 1<<time.Wednesday | 1<<time.Thursday | 1<<time.Friday
	lastDay  = 1
)

var dayNames = [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}

// ParseWindow reads a window:
//
//	2026-12-24T18:00:00+01:00/2026-12-27T08:00:00+01:00   one-shot, RFC 3339 start/end
//	daily 23:30-00:30 UTC                                 every day (crosses midnight)
//	weekdays 12:00-13:00 America/New_York                 Monday to Friday
//	weekly Sat,Sun 02:00-04:00 Europe/Berlin              on the days listed
//	monthly 1,15,last 03:00-05:00 America/New_York        on the days of the month listed
//
// See the package documentation for the rules (DST, month ends).
func ParseWindow(s string) (Window, error) {
	w, err := parseWindow(s)
	if err != nil {
		return Window{}, fmt.Errorf("suppression window %q: %w", clip(s), err)
	}
	return w, nil
}

func parseWindow(s string) (Window, error) {
	if len(s) > MaxWindowLen {
		return Window{}, fmt.Errorf("longer than %d bytes", MaxWindowLen)
	}
	f := strings.Fields(s)
	if len(f) == 0 {
		return Window{}, errors.New("empty: want start/end in RFC 3339, or daily, weekdays, weekly or monthly")
	}
	w := Window{kind: kindDays}
	args := f[1:]
	switch f[0] {
	case "daily":
		w.weekdays = allDays
	case "weekdays":
		w.weekdays = weekDays
	case "weekly", "monthly":
		if len(f) != 4 {
			return Window{}, fmt.Errorf("want %s DAYS HH:MM-HH:MM ZONE", f[0])
		}
		var err error
		if f[0] == "weekly" {
			w.weekdays, err = parseWeekdays(f[1])
		} else {
			w.kind = kindMonthly
			w.monthdays, err = parseMonthdays(f[1])
		}
		if err != nil {
			return Window{}, err
		}
		args = f[2:]
	default:
		if len(f) == 1 && strings.Contains(f[0], "/") {
			return parseOnce(f[0])
		}
		return Window{}, fmt.Errorf("starts with %q: want start/end in RFC 3339, or daily, weekdays, weekly or monthly", clip(f[0]))
	}
	if len(args) != 2 {
		return Window{}, fmt.Errorf("want %s HH:MM-HH:MM ZONE", f[0])
	}
	var err error
	if w.from, w.to, err = parseRange(args[0]); err != nil {
		return Window{}, err
	}
	if w.loc, err = loadZone(args[1]); err != nil {
		return Window{}, err
	}
	return w, nil
}

func parseOnce(s string) (Window, error) {
	a, b, _ := strings.Cut(s, "/")
	start, err := time.Parse(time.RFC3339Nano, a)
	if err != nil {
		return Window{}, fmt.Errorf("start %q is not an RFC 3339 time (2026-12-24T18:00:00+01:00)", clip(a))
	}
	end, err := time.Parse(time.RFC3339Nano, b)
	if err != nil {
		return Window{}, fmt.Errorf("end %q is not an RFC 3339 time (2026-12-24T18:00:00+01:00)", clip(b))
	}
	if !end.After(start) {
		return Window{}, errors.New("end must be after start")
	}
	// Subtraction saturates, so a 9999-year span still counts as too long.
	if end.Sub(start) > maxOnceLength {
		return Window{}, errors.New("a one-shot window lasts at most 366 days")
	}
	return Window{kind: kindOnce, start: start, end: end}, nil
}

func parseWeekdays(s string) (uint8, error) {
	var mask uint8
	for _, d := range strings.Split(s, ",") {
		i := 0
		for i < 7 && !strings.EqualFold(d, dayNames[i]) {
			i++
		}
		if i == 7 {
			return 0, fmt.Errorf("day %q: want Sun, Mon, Tue, Wed, Thu, Fri or Sat, separated by commas", clip(d))
		}
		if mask&(1<<i) != 0 {
			return 0, fmt.Errorf("day %q listed twice", clip(d))
		}
		mask |= 1 << i
	}
	return mask, nil
}

func parseMonthdays(s string) (uint32, error) {
	var mask uint32
	for _, d := range strings.Split(s, ",") {
		bit := -1
		if d == "last" {
			bit = 0
		} else if len(d) >= 1 && len(d) <= 2 && d[0] != '0' {
			if n, err := strconv.Atoi(d); err == nil && n >= 1 && n <= 31 {
				bit = n
			}
		}
		if bit < 0 {
			return 0, fmt.Errorf("day of month %q: want 1 to 31 or last, separated by commas", clip(d))
		}
		if mask&(1<<bit) != 0 {
			return 0, fmt.Errorf("day of month %q listed twice", clip(d))
		}
		mask |= 1 << bit
	}
	return mask, nil
}

func parseRange(s string) (from, to int, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("time range %q: want HH:MM-HH:MM (24-hour clock)", clip(s))
	}
	if from, err = parseClock(a); err == nil {
		to, err = parseClock(b)
	}
	if err != nil {
		return 0, 0, err
	}
	if from == to {
		return 0, 0, fmt.Errorf("time range %q: start and end are equal; a window lasts less than a day", s)
	}
	return from, to, nil
}

func parseClock(s string) (int, error) {
	if len(s) != 5 || s[2] != ':' || !isDigit(s[0]) || !isDigit(s[1]) || !isDigit(s[3]) || !isDigit(s[4]) {
		return 0, fmt.Errorf("time %q: want HH:MM (24-hour clock)", clip(s))
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if h > 23 || m > 59 {
		return 0, fmt.Errorf("time %q: want 00:00 to 23:59", s)
	}
	return h*60 + m, nil
}

func loadZone(name string) (*time.Location, error) {
	if name == "Local" {
		return nil, errors.New(`zone "Local": name an IANA zone (Europe/Berlin) or UTC; the collector's own zone must not matter`)
	}
	if len(name) > maxZoneNameLength {
		return nil, fmt.Errorf("zone %q: longer than %d bytes", clip(name), maxZoneNameLength)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(isIdentStart(c) || isDigit(c) || c == '/' || c == '-' || c == '+') {
			return nil, fmt.Errorf("zone %q: an IANA zone name (Europe/Berlin) or UTC", clip(name))
		}
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("zone %q: %w", name, err)
	}
	return loc, nil
}

// String prints the window in the form ParseWindow reads (canonical: days
// in calendar order, the shortest day form).
func (w Window) String() string {
	var b strings.Builder
	switch w.kind {
	case kindOnce:
		return w.start.Format(time.RFC3339Nano) + "/" + w.end.Format(time.RFC3339Nano)
	case kindDays:
		switch w.weekdays {
		case allDays:
			b.WriteString("daily")
		case weekDays:
			b.WriteString("weekdays")
		default:
			b.WriteString("weekly ")
			sep := ""
			for k := 1; k <= 7; k++ { // Monday first, ISO 8601
				if i := k % 7; w.weekdays&(1<<i) != 0 {
					b.WriteString(sep + dayNames[i])
					sep = ","
				}
			}
		}
	case kindMonthly:
		b.WriteString("monthly ")
		sep := ""
		for d := 1; d <= 31; d++ {
			if w.monthdays&(1<<d) != 0 {
				b.WriteString(sep + strconv.Itoa(d))
				sep = ","
			}
		}
		if w.monthdays&lastDay != 0 {
			b.WriteString(sep + "last")
		}
	default:
		return "none"
	}
	fmt.Fprintf(&b, " %02d:%02d-%02d:%02d %s", w.from/60, w.from%60, w.to/60, w.to%60, w.loc)
	return b.String()
}

// MarshalText and UnmarshalText make a Window a JSON string.
func (w Window) MarshalText() ([]byte, error) {
	if w.kind == kindNone {
		return nil, errors.New("suppression window: zero Window")
	}
	return []byte(w.String()), nil
}

func (w *Window) UnmarshalText(b []byte) error {
	v, err := ParseWindow(string(b))
	if err != nil {
		return err
	}
	*w = v
	return nil
}

// Active reports whether t falls in the window.
func (w Window) Active(t time.Time) bool {
	switch w.kind {
	case kindOnce:
		return !t.Before(w.start) && t.Before(w.end)
	case kindDays, kindMonthly:
		lt := t.In(w.loc)
		if zs, ze := lt.ZoneBounds(); (zs.IsZero() || t.Sub(zs) > stable) && (ze.IsZero() || ze.Sub(t) > stable) {
			// No clock change near t: the occurrences that could contain
			// it (starting within two days before t, ending within a day
			// after) are plain wall-clock arithmetic, and this is the
			// cheap path Matcher takes nearly always.
			y, m, d := lt.Date()
			hh, mm, _ := lt.Clock()
			now := hh*60 + mm
			if w.from < w.to {
				return now >= w.from && now < w.to && w.on(y, m, d)
			}
			return (now >= w.from && w.on(y, m, d)) || (now < w.to && w.on(y, m, d-1))
		}
		// An occurrence that contains t starts on t's local date or the
		// day before; or the day after, were clocks ever set back across
		// midnight from past it.
		y, m, d := lt.Date()
		for k := -1; k <= 1; k++ {
			if !w.on(y, m, d+k) {
				continue
			}
			s, e := w.occurrence(y, m, d+k)
			if !t.Before(s) && t.Before(e) {
				return true
			}
		}
	}
	return false
}

// Next returns the occurrence that contains t, or else the next one to
// start; both zero when there is none (a one-shot window that is over).
// An occurrence that ends exactly where the next begins (a window
// crossing midnight on a day whose clocks skip both its ends) is joined
// with it. Active(t) is exactly start <= t < end.
func (w Window) Next(t time.Time) (start, end time.Time) {
	switch w.kind {
	case kindOnce:
		if t.Before(w.end) {
			return w.start, w.end
		}
		return time.Time{}, time.Time{}
	case kindDays, kindMonthly:
	default:
		return time.Time{}, time.Time{}
	}
	y, m, d := t.In(w.loc).Date()
	// Every kind has an occurrence at least every 62 days (monthly 31);
	// 400 days is a bound that cannot be reached, not a search limit.
	for k := -1; k < 400; k++ {
		if !w.on(y, m, d+k) {
			continue
		}
		s, e := w.occurrence(y, m, d+k)
		if !e.After(t) || !s.Before(e) {
			continue
		}
		if start.IsZero() {
			start, end = s, e
			continue
		}
		if s.After(end) {
			break
		}
		end = e
	}
	return start, end
}

// on reports whether an occurrence starts on the date (day may be out of
// range; it is normalised).
func (w Window) on(y int, m time.Month, d int) bool {
	date := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	if w.kind == kindDays {
		return w.weekdays&(1<<date.Weekday()) != 0
	}
	day := date.Day()
	if w.monthdays&(1<<day) != 0 {
		return true
	}
	return w.monthdays&lastDay != 0 && date.AddDate(0, 0, 1).Day() == 1
}

// occurrence is the occurrence starting on the date.
func (w Window) occurrence(y int, m time.Month, d int) (s, e time.Time) {
	s = resolve(y, m, d, w.from, w.loc)
	if w.to <= w.from {
		d++
	}
	return s, resolve(y, m, d, w.to, w.loc)
}

// resolve returns the first instant at which the wall clock in loc reads
// the date and minute or later. A wall time that repeats (clocks set back)
// is taken at its first occurrence; one that does not exist (clocks set
// forward) becomes the end of the gap, as cron runs a job scheduled in
// the skipped hour when the hour is skipped.
func resolve(y int, m time.Month, d, minute int, loc *time.Location) time.Time {
	want := time.Date(y, m, d, 0, minute, 0, 0, time.UTC).Unix()
	// The zone's offsets a day either side: the instant sought is wall
	// time minus one of them.
	var offs [3]int
	for i, shift := range [3]int64{-86400, 0, 86400} {
		_, offs[i] = time.Unix(want+shift, 0).In(loc).Zone()
	}
	var best time.Time
	for _, off := range offs {
		u := time.Unix(want-int64(off), 0).In(loc)
		_, o := u.Zone()
		wall := u.Unix() + int64(o)
		switch {
		case wall == want:
		case wall > want:
			// Possibly past a gap: the gap ends where u's zone begins.
			zs, _ := u.ZoneBounds()
			if zs.IsZero() {
				continue
			}
			_, zo := zs.Zone()
			if zs.Unix()+int64(zo) < want {
				continue
			}
			_, po := zs.Add(-time.Second).Zone()
			if zs.Unix()-1+int64(po) >= want {
				continue // not the first instant at or past want
			}
			u = zs
		default:
			continue
		}
		if best.IsZero() || u.Before(best) {
			best = u
		}
	}
	if best.IsZero() {
		// Zone data beyond the three offsets (two transitions within two
		// days): fall back on time.Date's choice.
		return time.Date(y, m, d, 0, minute, 0, 0, loc)
	}
	return best
}

// Scope is what a suppression applies to. A transition is in scope when
// each non-empty list holds its agent, check and alarm; an empty list
// matches all, and a transition without a check or alarm (AGENT_DOWN is
// the agent's own) matches only a scope whose list for it is empty.
// A tag selector over agents' tags is the planned extension: another
// field, matched the same way (absent matches all).
type Scope struct {
	Agents []string `json:"agents,omitempty"`
	Checks []string `json:"checks,omitempty"`
	Alarms []string `json:"alarms,omitempty"`
}

// Suppression is a maintenance window: transitions in its scope are not
// notified while one of its windows is active. With NotifyOnRecovery a
// transition to OK still is, so a team learns that the service came back.
type Suppression struct {
	ID               string   `json:"id"`
	Scope            Scope    `json:"scope"`
	Windows          []Window `json:"windows"`
	NotifyOnRecovery bool     `json:"notify_on_recovery"`
}

// Validate checks the suppression against the limits.
func (s *Suppression) Validate() error {
	if s.ID == "" || len(s.ID) > MaxSuppressionID {
		return fmt.Errorf("suppression %q: id must be 1 to %d bytes", clip(s.ID), MaxSuppressionID)
	}
	if len(s.Windows) == 0 || len(s.Windows) > MaxWindows {
		return fmt.Errorf("suppression %q: %d windows, want 1 to %d", s.ID, len(s.Windows), MaxWindows)
	}
	for i, w := range s.Windows {
		if w.kind == kindNone {
			return fmt.Errorf("suppression %q: window %d is empty", s.ID, i+1)
		}
	}
	if n := len(s.Scope.Agents) + len(s.Scope.Checks) + len(s.Scope.Alarms); n > MaxScopeEntries {
		return fmt.Errorf("suppression %q: scope lists %d entries, at most %d", s.ID, n, MaxScopeEntries)
	}
	for _, l := range [][]string{s.Scope.Agents, s.Scope.Checks, s.Scope.Alarms} {
		for _, v := range l {
			if v == "" {
				return fmt.Errorf("suppression %q: empty name in scope", s.ID)
			}
		}
	}
	return nil
}

// Active reports whether one of the windows contains t.
func (s *Suppression) Active(t time.Time) bool {
	for _, w := range s.Windows {
		if w.Active(t) {
			return true
		}
	}
	return false
}

// Next returns the suppressed span that contains t, or else the next one,
// as a UI shows it ("until 04:00"): windows that overlap or touch are
// joined, for up to a year. Zero times when no window applies again.
// Active(t) is exactly start <= t < end.
func (s *Suppression) Next(t time.Time) (start, end time.Time) {
	for _, w := range s.Windows {
		ws, we := w.Next(t)
		if we.IsZero() {
			continue
		}
		if end.IsZero() || ws.Before(start) {
			start, end = ws, we
		}
	}
	if end.IsZero() {
		return start, end
	}
	// Extend through windows active where the span ends. Windows that
	// together cover every instant would extend it for ever: a span is
	// followed for a year (maxOnceLength), and a longer one ends there
	// although the suppression is still active.
	for end.Sub(start) < maxOnceLength {
		moved := false
		for _, w := range s.Windows {
			if w.Active(end) {
				if _, we := w.Next(end); we.After(end) {
					end, moved = we, true
				}
			}
		}
		if !moved {
			break
		}
	}
	return start, end
}

// Matcher answers, for each transition, whether a suppression silences
// it. It is immutable: build a new one when suppressions change. Safe for
// concurrent use.
type Matcher struct {
	byAlarm, byAgent, byCheck map[string][]*entry
	unscoped                  []*entry
}

type entry struct {
	s                Suppression
	alarms           map[string]struct{} // nil: any
	agents, checks   map[string]struct{}
	suppressed, kept string // reasons
}

// NewMatcher validates the suppressions and indexes them by alarm, agent
// or check, so a transition looks at the suppressions that can concern it.
func NewMatcher(list []Suppression) (*Matcher, error) {
	m := &Matcher{byAlarm: map[string][]*entry{}, byAgent: map[string][]*entry{}, byCheck: map[string][]*entry{}}
	seen := make(map[string]bool, len(list))
	for i := range list {
		s := list[i]
		if err := s.Validate(); err != nil {
			return nil, err
		}
		if seen[s.ID] {
			return nil, fmt.Errorf("suppression %q: id used twice", s.ID)
		}
		seen[s.ID] = true
		e := &entry{
			s:          s,
			alarms:     set(s.Scope.Alarms),
			agents:     set(s.Scope.Agents),
			checks:     set(s.Scope.Checks),
			suppressed: "suppressed by " + s.ID,
			kept:       "recovery notified during suppression " + s.ID,
		}
		// Index under one list: the transition's value must be in it.
		switch {
		case e.alarms != nil:
			for v := range e.alarms {
				m.byAlarm[v] = append(m.byAlarm[v], e)
			}
		case e.agents != nil:
			for v := range e.agents {
				m.byAgent[v] = append(m.byAgent[v], e)
			}
		case e.checks != nil:
			for v := range e.checks {
				m.byCheck[v] = append(m.byCheck[v], e)
			}
		default:
			m.unscoped = append(m.unscoped, e)
		}
	}
	return m, nil
}

func set(l []string) map[string]struct{} {
	if len(l) == 0 {
		return nil
	}
	m := make(map[string]struct{}, len(l))
	for _, v := range l {
		m[v] = struct{}{}
	}
	return m
}

func has(m map[string]struct{}, v string) bool {
	if m == nil {
		return true
	}
	_, ok := m[v]
	return ok
}

// Suppressed reports whether the transition of alarm alarmID for agent
// and check to state to, at t, is silenced, with the reason. An active
// suppression in scope silences it, except a transition to OK when the
// suppression has NotifyOnRecovery; when several apply, one that
// silences wins. The reason names the suppression ("suppressed by ID",
// or "recovery notified during suppression ID"); it is empty when none
// applies. It allocates nothing.
func (m *Matcher) Suppressed(alarmID, agent, check string, t time.Time, to State) (bool, string) {
	kept := ""
	for _, l := range [4][]*entry{m.byAlarm[alarmID], m.byAgent[agent], m.byCheck[check], m.unscoped} {
		for _, e := range l {
			if !has(e.alarms, alarmID) || !has(e.agents, agent) || !has(e.checks, check) || !e.s.Active(t) {
				continue
			}
			if to == StateOK && e.s.NotifyOnRecovery {
				if kept == "" {
					kept = e.kept
				}
				continue
			}
			return true, e.suppressed
		}
	}
	return false, kept
}
