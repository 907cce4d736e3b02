package alarm

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

func ts(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func window(t testing.TB, s string) Window {
	t.Helper()
	w, err := ParseWindow(s)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestParseWindow(t *testing.T) {
	good := []struct{ in, out string }{
		{"daily 23:30-00:30 UTC", ""},
		{"  daily\t09:00-17:00   Europe/Berlin ", "daily 09:00-17:00 Europe/Berlin"},
		{"weekdays 12:00-13:00 America/New_York", ""},
		{"weekly Sun 02:00-04:00 Europe/Berlin", ""},
		{"weekly sun,SAT 22:00-06:00 UTC", "weekly Sat,Sun 22:00-06:00 UTC"},
		{"weekly Fri,Mon,Wed,Tue,Thu 08:00-09:00 UTC", "weekdays 08:00-09:00 UTC"},
		{"weekly Mon,Tue,Wed,Thu,Fri,Sat,Sun 08:00-09:00 UTC", "daily 08:00-09:00 UTC"},
		{"monthly 1 03:00-05:00 America/New_York", ""},
		{"monthly last,15,1 23:00-01:00 Asia/Tokyo", "monthly 1,15,last 23:00-01:00 Asia/Tokyo"},
		{"monthly 31 00:00-23:59 Etc/GMT+5", ""},
		{"2026-12-24T18:00:00+01:00/2026-12-27T08:00:00+01:00", ""},
		{"2026-12-24T18:00:00.5Z/2027-12-24T18:00:00.5Z", ""}, // 365 days
		{"2028-01-01T00:00:00Z/2028-12-31T23:59:59Z", ""},     // 366 days less a second
	}
	for _, c := range good {
		w, err := ParseWindow(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		want := c.out
		if want == "" {
			want = c.in
		}
		if got := w.String(); got != want {
			t.Errorf("%q prints as %q, want %q", c.in, got, want)
		}
	}

	bad := []struct{ in, err string }{
		{"", `suppression window "": empty: want start/end in RFC 3339, or daily, weekdays, weekly or monthly`},
		{"hourly 10-20 UTC", `suppression window "hourly 10-20 UTC": starts with "hourly": want start/end in RFC 3339, or daily, weekdays, weekly or monthly`},
		{"daily 02:00-04:00", `suppression window "daily 02:00-04:00": want daily HH:MM-HH:MM ZONE`},
		{"weekly 02:00-04:00 UTC", `suppression window "weekly 02:00-04:00 UTC": want weekly DAYS HH:MM-HH:MM ZONE`},
		{"weekly Sunday 02:00-04:00 UTC", `suppression window "weekly Sunday 02:00-04:00 UTC": day "Sunday": want Sun, Mon, Tue, Wed, Thu, Fri or Sat, separated by commas`},
		{"weekly Sun,sun 02:00-04:00 UTC", `suppression window "weekly Sun,sun 02:00-04:00 UTC": day "sun" listed twice`},
		{"weekly Sat-Sun 02:00-04:00 UTC", `suppression window "weekly Sat-Sun 02:00-04:00 UTC": day "Sat-Sun": want Sun, Mon, Tue, Wed, Thu, Fri or Sat, separated by commas`},
		{"monthly 32 02:00-04:00 UTC", `suppression window "monthly 32 02:00-04:00 UTC": day of month "32": want 1 to 31 or last, separated by commas`},
		{"monthly 01 02:00-04:00 UTC", `suppression window "monthly 01 02:00-04:00 UTC": day of month "01": want 1 to 31 or last, separated by commas`},
		{"monthly 1,,2 02:00-04:00 UTC", `suppression window "monthly 1,,2 02:00-04:00 UTC": day of month "": want 1 to 31 or last, separated by commas`},
		{"monthly last,last 02:00-04:00 UTC", `suppression window "monthly last,last 02:00-04:00 UTC": day of month "last" listed twice`},
		{"daily 2:00-4:00 UTC", `suppression window "daily 2:00-4:00 UTC": time "2:00": want HH:MM (24-hour clock)`},
		{"daily 02:00 UTC", `suppression window "daily 02:00 UTC": time range "02:00": want HH:MM-HH:MM (24-hour clock)`},
		{"daily 22:00-24:00 UTC", `suppression window "daily 22:00-24:00 UTC": time "24:00": want 00:00 to 23:59`},
		{"daily 02:60-04:00 UTC", `suppression window "daily 02:60-04:00 UTC": time "02:60": want 00:00 to 23:59`},
		{"daily 02:00-02:00 UTC", `suppression window "daily 02:00-02:00 UTC": time range "02:00-02:00": start and end are equal; a window lasts less than a day`},
		{"daily 02:00-04:00 Local", `suppression window "daily 02:00-04:00 Local": zone "Local": name an IANA zone (Europe/Berlin) or UTC; the collector's own zone must not matter`},
		{"daily 02:00-04:00 Mars/Olympus", `suppression window "daily 02:00-04:00 Mars/Olympus": zone "Mars/Olympus": unknown time zone Mars/Olympus`},
		{"daily 02:00-04:00 ../../etc/passwd", `suppression window "daily 02:00-04:00 ../../etc/passwd": zone "../../etc/passwd": an IANA zone name (Europe/Berlin) or UTC`},
		{"daily 02:00-04:00 /etc/localtime", `suppression window "daily 02:00-04:00 /etc/localtime": zone "/etc/localtime": time: invalid location name`},
		{"daily 02:00-04:00 UTC extra", `suppression window "daily 02:00-04:00 UTC extra": want daily HH:MM-HH:MM ZONE`},
		{"2026-12-24/2026-12-25", `suppression window "2026-12-24/2026-12-25": start "2026-12-24" is not an RFC 3339 time (2026-12-24T18:00:00+01:00)`},
		{"2026-12-24T18:00:00Z/tomorrow", `suppression window "2026-12-24T18:00:00Z/tomorrow": end "tomorrow" is not an RFC 3339 time (2026-12-24T18:00:00+01:00)`},
		{"2026-12-24T18:00:00Z/2026-12-24T19:00:00+01:00", `suppression window "2026-12-24T18:00:00Z/2026-12-24T19:00:00...": end must be after start`},
		{"2026-01-01T00:00:00Z/2027-01-03T00:00:00Z", `suppression window "2026-01-01T00:00:00Z/2027-01-03T00:00:00...": a one-shot window lasts at most 366 days`},
		{"0001-01-01T00:00:00Z/9999-12-31T23:59:59Z", `suppression window "0001-01-01T00:00:00Z/9999-12-31T23:59:59...": a one-shot window lasts at most 366 days`},
		{"daily 02:00-04:00 " + strings.Repeat("A", 250), `suppression window "daily 02:00-04:00 AAAAAAAAAAAAAAAAAAAAAA...": longer than 256 bytes`},
		{"daily 02:00-04:00 " + strings.Repeat("A", 65), `suppression window "daily 02:00-04:00 AAAAAAAAAAAAAAAAAAAAAA...": zone "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA...": longer than 64 bytes`},
	}
	for _, c := range bad {
		_, err := ParseWindow(c.in)
		if err == nil {
			t.Errorf("%q: accepted", c.in)
		} else if err.Error() != c.err {
			t.Errorf("%q:\n got %s\nwant %s", c.in, err, c.err)
		}
	}
}

// TestWindowActiveNext: Active and Next at chosen instants, around
// midnight, month ends and DST changes. "-" for an Active of false.
func TestWindowActiveNext(t *testing.T) {
	cases := []struct {
		window, at string
		active     bool
		start, end string // "" for none
	}{
		// Crossing midnight, and a year's end.
		{"daily 23:30-00:30 UTC", "2026-12-31T23:29:59Z", false, "2026-12-31T23:30:00Z", "2027-01-01T00:30:00Z"},
		{"daily 23:30-00:30 UTC", "2026-12-31T23:30:00Z", true, "2026-12-31T23:30:00Z", "2027-01-01T00:30:00Z"},
		{"daily 23:30-00:30 UTC", "2027-01-01T00:15:00Z", true, "2026-12-31T23:30:00Z", "2027-01-01T00:30:00Z"},
		{"daily 23:30-00:30 UTC", "2027-01-01T00:30:00Z", false, "2027-01-01T23:30:00Z", "2027-01-02T00:30:00Z"},
		// The day is the start's: Sunday night into Monday.
		{"weekly Sun 23:00-01:00 UTC", "2026-12-07T00:30:00Z", true, "2026-12-06T23:00:00Z", "2026-12-07T01:00:00Z"},  // Monday
		{"weekly Sun 23:00-01:00 UTC", "2026-12-06T00:30:00Z", false, "2026-12-06T23:00:00Z", "2026-12-07T01:00:00Z"}, // Sunday
		{"weekdays 12:00-13:00 UTC", "2026-12-05T12:30:00Z", false, "2026-12-07T12:00:00Z", "2026-12-07T13:00:00Z"},   // Saturday
		{"weekly Sat,Sun 22:00-02:00 Europe/Berlin", "2026-12-06T22:00:00Z", true, "2026-12-06T21:00:00Z", "2026-12-07T01:00:00Z"},
		// Month ends: a day the month lacks is skipped, last is the last.
		{"monthly 31 03:00-05:00 UTC", "2027-01-31T06:00:00Z", false, "2027-03-31T03:00:00Z", "2027-03-31T05:00:00Z"},
		{"monthly 30 03:00-05:00 UTC", "2028-02-01T00:00:00Z", false, "2028-03-30T03:00:00Z", "2028-03-30T05:00:00Z"},
		{"monthly last 22:00-02:00 UTC", "2028-02-15T00:00:00Z", false, "2028-02-29T22:00:00Z", "2028-03-01T02:00:00Z"},
		{"monthly last 22:00-02:00 UTC", "2027-03-01T01:00:00Z", true, "2027-02-28T22:00:00Z", "2027-03-01T02:00:00Z"},
		{"monthly 1,last 23:00-01:00 UTC", "2027-04-30T23:30:00Z", true, "2027-04-30T23:00:00Z", "2027-05-01T01:00:00Z"},
		{"monthly 1 23:00-01:00 Europe/Berlin", "2026-12-31T22:30:00Z", false, "2027-01-01T22:00:00Z", "2027-01-02T00:00:00Z"}, // the 1st's night, not the 31st's
		{"monthly 1 23:00-01:00 Europe/Berlin", "2027-01-01T23:30:00Z", true, "2027-01-01T22:00:00Z", "2027-01-02T00:00:00Z"},
		// Europe/Berlin springs forward on 2026-03-29 at 02:00 CET
		// (01:00Z) to 03:00 CEST: a start in the gap moves to its end.
		{"daily 02:30-03:30 Europe/Berlin", "2026-03-29T00:59:59Z", false, "2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z"},
		{"daily 02:30-03:30 Europe/Berlin", "2026-03-29T01:00:00Z", true, "2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z"},
		{"daily 01:00-04:00 Europe/Berlin", "2026-03-29T01:30:00Z", true, "2026-03-29T00:00:00Z", "2026-03-29T02:00:00Z"},  // 2 h long
		{"daily 02:15-02:45 Europe/Berlin", "2026-03-29T00:00:00Z", false, "2026-03-30T00:15:00Z", "2026-03-30T00:45:00Z"}, // all in the gap: none that day
		{"daily 02:45-02:15 Europe/Berlin", "2026-03-29T00:30:00Z", true, "2026-03-28T01:45:00Z", "2026-03-30T00:15:00Z"},  // both ends in the gap: joined
		// ...and falls back on 2026-10-25 at 03:00 CEST (01:00Z) to 02:00
		// CET: a repeated time counts at its first occurrence, so 02:30 to
		// 03:30 lasts two hours and 02:00 to 02:30 is the first half hour.
		{"daily 02:30-03:30 Europe/Berlin", "2026-10-25T01:45:00Z", true, "2026-10-25T00:30:00Z", "2026-10-25T02:30:00Z"},
		{"daily 02:00-02:30 Europe/Berlin", "2026-10-25T00:15:00Z", true, "2026-10-25T00:00:00Z", "2026-10-25T00:30:00Z"},
		{"daily 02:00-02:30 Europe/Berlin", "2026-10-25T01:15:00Z", false, "2026-10-26T01:00:00Z", "2026-10-26T01:30:00Z"}, // 02:15 CET, the second time
		{"daily 01:00-04:00 Europe/Berlin", "2026-10-25T02:30:00Z", true, "2026-10-24T23:00:00Z", "2026-10-25T03:00:00Z"},  // 4 h long
		// America/New_York springs forward on 2026-03-08 at 02:00 EST
		// (07:00Z) and falls back on 2026-11-01 at 02:00 EDT (06:00Z).
		{"daily 02:30-03:30 America/New_York", "2026-03-08T06:45:00Z", false, "2026-03-08T07:00:00Z", "2026-03-08T07:30:00Z"},
		{"weekly Sun 01:00-05:00 America/New_York", "2026-03-08T07:00:00Z", true, "2026-03-08T06:00:00Z", "2026-03-08T09:00:00Z"},
		{"daily 01:30-02:30 America/New_York", "2026-11-01T06:15:00Z", true, "2026-11-01T05:30:00Z", "2026-11-01T07:30:00Z"},
		{"daily 01:00-01:30 America/New_York", "2026-11-01T06:10:00Z", false, "2026-11-02T06:00:00Z", "2026-11-02T06:30:00Z"},
		{"daily 23:00-01:00 America/New_York", "2026-11-01T04:30:00Z", true, "2026-11-01T03:00:00Z", "2026-11-01T05:00:00Z"},  // the first 01:00 (EDT) ends it
		{"daily 23:00-01:00 America/New_York", "2026-11-01T05:30:00Z", false, "2026-11-02T04:00:00Z", "2026-11-02T06:00:00Z"}, // 01:30 EDT
		// America/Santiago sets clocks back at midnight (2026-04-05 00:00
		// -03 becomes 2026-04-04 23:00 -04, at 03:00Z): the 5th's 00:00 is
		// reached an hour later.
		{"daily 00:00-01:00 America/Santiago", "2026-04-05T03:30:00Z", false, "2026-04-05T04:00:00Z", "2026-04-05T05:00:00Z"},
		{"daily 23:30-00:30 America/Santiago", "2026-04-05T03:15:00Z", true, "2026-04-05T02:30:00Z", "2026-04-05T04:30:00Z"},
		// One-shot.
		{"2026-12-24T18:00:00+01:00/2026-12-27T08:00:00+01:00", "2026-12-01T00:00:00Z", false, "2026-12-24T17:00:00Z", "2026-12-27T07:00:00Z"},
		{"2026-12-24T18:00:00+01:00/2026-12-27T08:00:00+01:00", "2026-12-24T17:00:00Z", true, "2026-12-24T17:00:00Z", "2026-12-27T07:00:00Z"},
		{"2026-12-24T18:00:00+01:00/2026-12-27T08:00:00+01:00", "2026-12-27T07:00:00Z", false, "", ""},
	}
	for _, c := range cases {
		w := window(t, c.window)
		at := ts(t, c.at)
		if got := w.Active(at); got != c.active {
			t.Errorf("%s at %s: Active %v, want %v", c.window, c.at, got, c.active)
		}
		s, e := w.Next(at)
		var ws, we time.Time
		if c.start != "" {
			ws, we = ts(t, c.start), ts(t, c.end)
		}
		if !s.Equal(ws) || !e.Equal(we) {
			t.Errorf("%s at %s: Next %s to %s, want %s to %s", c.window, c.at,
				s.UTC().Format(time.RFC3339), e.UTC().Format(time.RFC3339), c.start, c.end)
		}
	}
	var zero Window
	if zero.Active(time.Now()) || !func() bool { s, e := zero.Next(time.Now()); return s.IsZero() && e.IsZero() }() {
		t.Error("the zero Window applies")
	}
}

func TestSuppressionNext(t *testing.T) {
	s := Suppression{ID: "x", Windows: []Window{
		window(t, "daily 02:00-04:00 UTC"),
		window(t, "weekly Sun 03:00-06:00 UTC"),
		window(t, "2026-12-06T06:00:00Z/2026-12-06T07:00:00Z"),
	}}
	check := func(at string, active bool, start, end string) {
		t.Helper()
		a := ts(t, at)
		if got := s.Active(a); got != active {
			t.Errorf("at %s: Active %v", at, got)
		}
		st, en := s.Next(a)
		if !st.Equal(ts(t, start)) || !en.Equal(ts(t, end)) {
			t.Errorf("at %s: Next %s to %s, want %s to %s", at, st.Format(time.RFC3339), en.Format(time.RFC3339), start, end)
		}
	}
	// Sunday: the daily window, the weekly one and the one-shot touch.
	check("2026-12-06T01:00:00Z", false, "2026-12-06T02:00:00Z", "2026-12-06T07:00:00Z")
	check("2026-12-06T05:00:00Z", true, "2026-12-06T03:00:00Z", "2026-12-06T07:00:00Z")
	check("2026-12-07T01:00:00Z", false, "2026-12-07T02:00:00Z", "2026-12-07T04:00:00Z")
}

func TestSuppressionJSON(t *testing.T) {
	in := `{"id":"m1","scope":{"agents":["web1"],"alarms":["disk"]},"windows":["weekly Sun 02:00-04:00 Europe/Berlin","2026-12-24T18:00:00+01:00/2026-12-27T08:00:00+01:00"],"notify_on_recovery":true}`
	var s Suppression
	if err := json.Unmarshal([]byte(in), &s); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != in {
		t.Errorf("round trip:\n got %s\nwant %s", out, in)
	}
	err = json.Unmarshal([]byte(`{"id":"m1","windows":["daily 02:00-04:00 Local"]}`), &s)
	if err == nil || !strings.Contains(err.Error(), `zone "Local"`) {
		t.Errorf("Local zone: %v", err)
	}
}

func TestMatcher(t *testing.T) {
	always := []Window{window(t, "2026-12-01T00:00:00Z/2026-12-31T00:00:00Z")}
	m, err := NewMatcher([]Suppression{
		{ID: "web-deploy", Scope: Scope{Agents: []string{"web1", "web2"}, Checks: []string{"http"}}, Windows: always, NotifyOnRecovery: true},
		{ID: "disk-alarm", Scope: Scope{Alarms: []string{"disk-full"}}, Windows: []Window{window(t, "daily 02:00-04:00 UTC")}},
		{ID: "db1", Scope: Scope{Agents: []string{"db1"}}, Windows: always},
		{ID: "dns-check", Scope: Scope{Checks: []string{"dns"}}, Windows: always, NotifyOnRecovery: true},
		{ID: "everything-sunday", Windows: []Window{window(t, "weekly Sun 00:00-06:00 UTC")}, NotifyOnRecovery: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	mon := ts(t, "2026-12-07T03:00:00Z")
	sun := ts(t, "2026-12-06T03:00:00Z")
	cases := []struct {
		alarm, agent, check string
		at                  time.Time
		to                  State
		suppressed          bool
		reason              string
	}{
		{"a1", "web1", "http", mon, StateCritical, true, "suppressed by web-deploy"},
		{"a1", "web1", "http", mon, StateOK, false, "recovery notified during suppression web-deploy"},
		{"a1", "web3", "http", mon, StateCritical, false, ""},
		{"a1", "web1", "ping", mon, StateCritical, false, ""},
		{"a1", "web1", "http", ts(t, "2026-12-31T00:00:00Z"), StateCritical, false, ""}, // one-shot over
		{"disk-full", "any", "disk", mon, StateWarning, true, "suppressed by disk-alarm"},
		{"disk-full", "any", "disk", mon, StateOK, true, "suppressed by disk-alarm"},
		{"disk-full", "any", "disk", ts(t, "2026-12-07T04:00:00Z"), StateWarning, false, ""},
		{"a2", "db1", "cpu", mon, StateNoData, true, "suppressed by db1"},
		{"", "db1", "", mon, StateAgentDown, true, "suppressed by db1"},
		{"", "web1", "", mon, StateAgentDown, false, ""}, // web-deploy is for a check
		{"a3", "x", "dns", mon, StateOK, false, "recovery notified during suppression dns-check"},
		{"a3", "x", "dns", mon, StateUnknown, true, "suppressed by dns-check"},
		{"a4", "x", "cpu", sun, StateCritical, true, "suppressed by everything-sunday"},
		{"", "x", "", sun, StateAgentDown, true, "suppressed by everything-sunday"},
		{"a4", "x", "cpu", sun, StateOK, false, "recovery notified during suppression everything-sunday"},
		// Two apply; the one that silences recoveries wins.
		{"a2", "db1", "cpu", sun, StateOK, true, "suppressed by db1"},
	}
	for _, c := range cases {
		got, reason := m.Suppressed(c.alarm, c.agent, c.check, c.at, c.to)
		if got != c.suppressed || reason != c.reason {
			t.Errorf("%s/%s/%s at %s to %s: %v %q, want %v %q", c.alarm, c.agent, c.check,
				c.at.Format(time.RFC3339), c.to, got, reason, c.suppressed, c.reason)
		}
	}

	bad := []struct {
		s   []Suppression
		err string
	}{
		{[]Suppression{{ID: "", Windows: always}}, `suppression "": id must be 1 to 128 bytes`},
		{[]Suppression{{ID: "a"}}, `suppression "a": 0 windows, want 1 to 16`},
		{[]Suppression{{ID: "a", Windows: make([]Window, 17)}}, `suppression "a": 17 windows, want 1 to 16`},
		{[]Suppression{{ID: "a", Windows: []Window{{}}}}, `suppression "a": window 1 is empty`},
		{[]Suppression{{ID: "a", Windows: always, Scope: Scope{Checks: []string{""}}}}, `suppression "a": empty name in scope`},
		{[]Suppression{{ID: "a", Windows: always, Scope: Scope{Agents: make([]string, 1001)}}}, `suppression "a": scope lists 1001 entries, at most 1000`},
		{[]Suppression{{ID: "a", Windows: always}, {ID: "a", Windows: always}}, `suppression "a": id used twice`},
	}
	for _, c := range bad {
		if _, err := NewMatcher(c.s); err == nil || err.Error() != c.err {
			t.Errorf("got %v, want %s", err, c.err)
		}
	}
}

// Zones with DST in both hemispheres, a 30-minute DST (Lord Howe),
// transitions at midnight (Santiago, Havana) and a skipped day (Apia,
// 2011-12-30).
var propertyZones = []string{"UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Santiago", "America/Havana", "Pacific/Apia"}

func randomWindow(r *rand.Rand) string {
	zone := propertyZones[r.IntN(len(propertyZones))]
	var from, to int
	for from == to {
		// Times near DST changes and midnight half the time.
		pick := func() int {
			if r.IntN(2) == 0 {
				return []int{0, 30, 60, 90, 120, 150, 180, 210, 1410, 1439}[r.IntN(10)]
			}
			return r.IntN(1440)
		}
		from, to = pick(), pick()
	}
	rng := fmt.Sprintf("%02d:%02d-%02d:%02d", from/60, from%60, to/60, to%60)
	switch r.IntN(5) {
	case 0:
		return "daily " + rng + " " + zone
	case 1:
		return "weekdays " + rng + " " + zone
	case 2:
		var days []string
		for i, d := range dayNames {
			if r.IntN(3) == 0 || (i == 6 && days == nil) {
				days = append(days, d)
			}
		}
		return "weekly " + strings.Join(days, ",") + " " + rng + " " + zone
	case 3:
		days := []string{"last"}
		for d := 28; d <= 31; d++ {
			if r.IntN(2) == 0 {
				days = append(days, fmt.Sprint(d))
			}
		}
		if r.IntN(2) == 0 {
			days = days[1:]
			if d := fmt.Sprint(1 + r.IntN(27)); !slices.Contains(days, d) {
				days = append(days, d)
			}
		}
		return "monthly " + strings.Join(days, ",") + " " + rng + " " + zone
	}
	start := time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.Int64N(int64(20 * 365 * 24 * time.Hour))))
	return start.Format(time.RFC3339) + "/" + start.Add(time.Duration(1+r.Int64N(int64(30*24*time.Hour)))).Format(time.RFC3339)
}

type activeNext interface {
	Active(time.Time) bool
	Next(time.Time) (time.Time, time.Time)
}

// agree checks that Active(at) is exactly start <= at < end of Next(at),
// that the span's ends are where activity changes, and that nothing is
// active between at and the next start.
func agree(t *testing.T, name string, w activeNext, at time.Time, r *rand.Rand) {
	t.Helper()
	active := w.Active(at)
	s, e := w.Next(at)
	if e.IsZero() {
		if active {
			t.Fatalf("%s at %s: active but Next has none", name, at)
		}
		return
	}
	if !s.Before(e) {
		t.Fatalf("%s at %s: Next %s to %s is empty", name, at, s, e)
	}
	if in := !at.Before(s) && at.Before(e); in != active {
		t.Fatalf("%s at %s: Active %v but Next %s to %s", name, at.UTC(), active, s.UTC(), e.UTC())
	}
	longest := e.Sub(s) >= maxOnceLength // a Suppression stops following a span there
	if !w.Active(s) || !w.Active(e.Add(-time.Nanosecond)) || (w.Active(e) && !longest) {
		t.Fatalf("%s at %s: Next %s to %s: Active(start) %v, Active(end-1ns) %v, Active(end) %v",
			name, at.UTC(), s.UTC(), e.UTC(), w.Active(s), w.Active(e.Add(-time.Nanosecond)), w.Active(e))
	}
	if mid := s.Add(time.Duration(r.Int64N(int64(e.Sub(s))))); !w.Active(mid) {
		t.Fatalf("%s: inactive at %s within %s to %s", name, mid.UTC(), s.UTC(), e.UTC())
	}
	if !active {
		if gap := s.Sub(at); gap > 0 {
			if u := at.Add(time.Duration(r.Int64N(int64(gap)))); w.Active(u) {
				t.Fatalf("%s: active at %s, before the next start %s", name, u.UTC(), s.UTC())
			}
		}
	}
}

func TestActiveAgreesWithNext(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 7))
	n := 3000
	if testing.Short() {
		n = 300
	}
	// Instants near DST changes and midnights as well as anywhere.
	var hot []time.Time
	for _, zone := range propertyZones {
		loc, _ := time.LoadLocation(zone)
		for y := 2010; y <= 2030; y += 4 {
			tm := time.Date(y, 1, 1, 0, 0, 0, 0, loc)
			for i := 0; i < 4; i++ {
				_, end := tm.ZoneBounds()
				if end.IsZero() {
					break
				}
				hot = append(hot, end)
				tm = end
			}
		}
	}
	at := func() time.Time {
		if r.IntN(2) == 0 {
			return hot[r.IntN(len(hot))].Add(time.Duration(r.IntN(6*3600)-3*3600) * time.Second)
		}
		return time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.Int64N(int64(20 * 365 * 24 * time.Hour))))
	}
	for i := 0; i < n; i++ {
		spec := randomWindow(r)
		w := window(t, spec)
		for j := 0; j < 5; j++ {
			agree(t, spec, w, at(), r)
		}
		s := Suppression{ID: "p", Windows: []Window{w}}
		for k := r.IntN(3); k > 0; k-- {
			s.Windows = append(s.Windows, window(t, randomWindow(r)))
		}
		agree(t, fmt.Sprint(s.Windows), &s, at(), r)
	}
}

func BenchmarkSuppressed(b *testing.B) {
	var list []Suppression
	windows := []string{"weekly Sun 02:00-04:00 Europe/Berlin", "daily 23:30-00:30 America/New_York", "monthly 1,last 03:00-05:00 UTC",
		"2026-12-24T18:00:00+01:00/2026-12-27T08:00:00+01:00"}
	for i := 0; i < 100; i++ {
		s := Suppression{ID: fmt.Sprint("s", i), Windows: []Window{window(b, windows[i%len(windows)])}, NotifyOnRecovery: i%2 == 0}
		switch i % 10 {
		case 0, 1, 2, 3:
			s.Scope.Agents = []string{fmt.Sprint("agent-", i), fmt.Sprint("agent-", i+1)}
		case 4, 5, 6:
			s.Scope.Alarms = []string{fmt.Sprint("alarm-", i)}
		case 7, 8:
			s.Scope.Checks = []string{fmt.Sprint("check-", i%3)}
			s.Scope.Agents = []string{fmt.Sprint("agent-", i)}
		case 9: // fleet-wide: looked at for every transition
		}
		list = append(list, s)
	}
	m, err := NewMatcher(list)
	if err != nil {
		b.Fatal(err)
	}
	at := ts(b, "2026-12-13T02:30:00Z") // a Sunday, inside the Berlin window
	for _, c := range []struct {
		name, alarm, agent, check string
		want                      bool
	}{
		{"suppressed", "alarm-5", "agent-1", "check-1", true},   // its alarm's, then its agent's
		{"not", "alarm-99", "agent-99", "check-9", false},       // the 10 fleet-wide ones
		{"not-scoped", "alarm-6", "agent-17", "check-2", false}, // alarm, agent and fleet-wide ones
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if ok, _ := m.Suppressed(c.alarm, c.agent, c.check, at, StateCritical); ok != c.want {
					b.Fatal(ok)
				}
			}
		})
	}
}

func ExampleMatcher() {
	sunday, _ := ParseWindow("weekly Sun 02:00-04:00 Europe/Berlin")
	m, err := NewMatcher([]Suppression{{
		ID:               "db-maintenance",
		Scope:            Scope{Agents: []string{"db1", "db2"}},
		Windows:          []Window{sunday},
		NotifyOnRecovery: true,
	}})
	if err != nil {
		panic(err)
	}
	at := time.Date(2026, 12, 6, 2, 30, 0, 0, time.UTC) // Sunday 03:30 in Berlin
	for _, c := range []struct {
		agent string
		to    State
	}{{"db1", StateCritical}, {"db1", StateOK}, {"web1", StateCritical}} {
		ok, reason := m.Suppressed("disk-full", c.agent, "disk", at, c.to)
		fmt.Printf("%s %s: %v %q\n", c.agent, c.to, ok, reason)
	}
	start, end := sunday.Next(at)
	fmt.Println(start.UTC(), end.UTC())
	// Output:
	// db1 CRITICAL: true "suppressed by db-maintenance"
	// db1 OK: false "recovery notified during suppression db-maintenance"
	// web1 CRITICAL: false ""
	// 2026-12-06 01:00:00 +0000 UTC 2026-12-06 03:00:00 +0000 UTC
}
