package suppression

import (
	"testing"

	"github.com/vigilmon/vigil/collector/store"
)

// FuzzFromStore: whatever a stored record holds, FromStore either
// refuses it or reads a suppression that writes back to a record reading
// the same again (windows in canonical form).
func FuzzFromStore(f *testing.F) {
	f.Add("a\nb", "", "disk", "daily 23:30-00:30 UTC\nweekly Sat,Sun 02:00-04:00 Europe/Berlin", true)
	f.Add("", "c", "", "2026-12-24T18:00:00+01:00/2026-12-27T08:00:00+01:00", false)
	f.Add("", "", "", "monthly 1,15,last 03:00-05:00 America/New_York", false)
	f.Add("x", "", "", "hourly", false)
	f.Fuzz(func(t *testing.T, agent, check, alarmID, windows string, recovery bool) {
		sp := store.Suppression{Tenant: "t", ID: "s", Agent: agent, Check: check, Alarm: alarmID, Recurring: windows, NotifyOnRecovery: recovery}
		s, err := FromStore(sp)
		if err != nil {
			return
		}
		again := ToStore("t", "", s)
		s2, err := FromStore(again)
		if err != nil {
			t.Fatalf("%+v reads back as %+v, which does not read: %v", sp, again, err)
		}
		if back := ToStore("t", "", s2); back != again {
			t.Fatalf("not stable:\n%+v\n%+v", again, back)
		}
	})
}
