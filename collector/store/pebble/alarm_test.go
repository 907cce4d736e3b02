package pebble

import (
	"testing"

	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/collector/store/storetest"
)

func TestAlarmContract(t *testing.T) {
	storetest.RunAlarms(t, func(t *testing.T, l store.AlarmLimits) store.Store {
		opts := testOpts
		opts.AlarmLimits = l
		s, err := Open(t.TempDir(), opts)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

func TestAlarmContractReopen(t *testing.T) {
	storetest.RunAlarmsReopen(t, func(t *testing.T) func() (store.Store, error) {
		dir := t.TempDir()
		return func() (store.Store, error) { return Open(dir, testOpts) }
	})
}
