package collector

import (
	"strings"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/store"
)

func TestStoreConfig(t *testing.T) {
	c, err := ParseConfig([]byte("name = \"c1\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Store.Backend != "embedded" || c.Retention() != store.DefaultRetention || c.Store.HeadPoints != 4<<20 || c.Store.MinFreeBytes != 256<<20 {
		t.Errorf("defaults: backend %q, retention %v, head_points %d", c.Store.Backend, c.Retention(), c.Store.HeadPoints)
	}
	c, err = ParseConfig([]byte(`name = "c1"
[store]
backend = "cassandra"
raw_retention = "48h"
retention_5m = "240h"
retention_1h = "4800h"
[store.cassandra]
hosts = ["10.0.0.1", "10.0.0.2"]
local_dc = "eu-west"
replication = { eu-west = 3, us-east = 3 }
consistency = "LOCAL_QUORUM"
timeout = "3s"
write_concurrency = 32
[store.cassandra.tls]
enabled = true
server_name = "cassandra.internal"
`))
	if err != nil {
		t.Fatal(err)
	}
	cc := c.CassandraConfig()
	if err := cc.Defaults(); err != nil {
		t.Fatal(err)
	}
	if cc.Keyspace != "vigil" || cc.Timeout != 3*time.Second || cc.WriteConcurrency != 32 || cc.Replication["us-east"] != 3 ||
		!cc.TLS.Enabled || cc.TLS.ServerName != "cassandra.internal" || cc.Retention[store.Res5m] != 240*time.Hour || len(cc.Hosts) != 2 {
		t.Errorf("cassandra config: %+v", cc)
	}
	for doc, want := range map[string]string{
		"[store]\nbackend = \"mysql\"":                                         "store.backend",
		"[store]\nbackend = \"cassandra\"":                                     "store.cassandra.hosts",
		"[store]\nbackend = \"cassandra\"\n[store.cassandra]\nhosts = [\"a\"]": "store.cassandra.local_dc",
		"[store]\nretention_5m = \"10m\"":                                      "store.retention_5m",
		"[store.cassandra]\nhostz = [\"a\"]":                                   "store.cassandra.hostz",
		"[store]\nhead_points = 100":                                           "store.head_points 100: want 10000",
		"[store]\nmin_free_bytes = 1000":                                       "store.min_free_bytes 1000: want at least",
	} {
		if _, err := ParseConfig([]byte("name = \"c1\"\n" + doc)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one naming %s", doc, err, want)
		}
	}
}
