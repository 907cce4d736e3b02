package alarm

import (
	"strings"
	"testing"
	"time"
)

func sameWindow(a, b Window) bool {
	return a.kind == b.kind && a.start.Equal(b.start) && a.end.Equal(b.end) &&
		a.weekdays == b.weekdays && a.monthdays == b.monthdays && a.from == b.from && a.to == b.to &&
		(a.loc == nil) == (b.loc == nil) && (a.loc == nil || a.loc.String() == b.loc.String())
}

// FuzzParseWindow: ParseWindow never panics; what it accepts prints to
// text that parses to the same window (and prints the same), and Active
// agrees with Next on it; what it refuses gets the window's error prefix.
func FuzzParseWindow(f *testing.F) {
	for _, s := range []string{
		"daily 23:30-00:30 UTC",
		"weekdays 12:00-13:00 America/New_York",
		"weekly Sat,sun 02:00-04:00 Europe/Berlin",
		"monthly 1,15,last 03:00-05:00 America/New_York",
		"monthly 31 02:30-03:30 Europe/Berlin",
		"2026-12-24T18:00:00+01:00/2026-12-27T08:00:00.123+01:00",
		"2026-12-24T18:00:00Z/2026-12-24T18:00:00Z",
		"daily 02:00-04:00 Local",
		"daily 02:00-04:00 ../etc",
		"weekly , 1:1-2:2 X",
		"",
	} {
		f.Add(s)
	}
	at := []time.Time{
		time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC),
		time.Date(2026, 10, 25, 0, 45, 0, 0, time.UTC),
		time.Date(2028, 2, 29, 23, 59, 0, 0, time.UTC),
	}
	f.Fuzz(func(t *testing.T, s string) {
		w, err := ParseWindow(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "suppression window \"") {
				t.Fatalf("%q: error %q lacks the prefix", s, err)
			}
			return
		}
		printed := w.String()
		w2, err := ParseWindow(printed)
		if err != nil {
			t.Fatalf("%q prints as %q, which does not parse: %v", s, printed, err)
		}
		if !sameWindow(w, w2) || w2.String() != printed {
			t.Fatalf("%q prints as %q, which parses to %q", s, printed, w2)
		}
		for _, a := range at {
			active := w.Active(a)
			st, en := w.Next(a)
			if in := !en.IsZero() && !a.Before(st) && a.Before(en); in != active {
				t.Fatalf("%q at %s: Active %v, Next %s to %s", s, a, active, st, en)
			}
		}
	})
}
