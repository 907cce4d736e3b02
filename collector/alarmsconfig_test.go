package collector

import (
	"strings"
	"testing"
	"time"
)

func TestAlarmsConfig(t *testing.T) {
	c, err := ParseConfig([]byte("name = \"c1\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	a := c.Alarms
	if !a.On() || a.LeaseTTL.Duration != 30*time.Second || a.QueueSize != 4096 || a.Refresh.Duration != 30*time.Second || a.DeliveryConcurrency != 4 {
		t.Errorf("[alarms] defaults: %+v", a)
	}
	c, err = ParseConfig([]byte("name = \"c1\"\n[alarms]\nenabled = false\nlease_ttl = \"10s\"\nqueue_size = 10\nrefresh = \"5s\"\ndelivery_concurrency = 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	a = c.Alarms
	if a.On() || a.LeaseTTL.Duration != 10*time.Second || a.QueueSize != 10 || a.Refresh.Duration != 5*time.Second || a.DeliveryConcurrency != 2 {
		t.Errorf("[alarms]: %+v", a)
	}
	for doc, want := range map[string]string{
		"lease_ttl = \"500ms\"":       "alarms.lease_ttl",
		"lease_ttl = \"1h\"":          "alarms.lease_ttl",
		"queue_size = -1":             "alarms.queue_size",
		"refresh = \"10ms\"":          "alarms.refresh",
		"delivery_concurrency = 1000": "alarms.delivery_concurrency",
		"enable = true":               "enable",
	} {
		if _, err := ParseConfig([]byte("name = \"c1\"\n[alarms]\n" + doc)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one naming %s", doc, err, want)
		}
	}
}
