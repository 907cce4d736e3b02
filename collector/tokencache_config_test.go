package collector

import (
	"strings"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/auth"
)

func TestTokenCacheAndRemoteDCConfig(t *testing.T) {
	c, err := ParseConfig([]byte("name = \"c1\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.TokenCacheConfig(); got != auth.DefaultCacheConfig {
		t.Errorf("token_cache defaults: %+v", got)
	}
	c, err = ParseConfig([]byte(`name = "c1"
[store]
backend = "cassandra"
[store.cassandra]
hosts = ["a"]
local_dc = "eu-west"
allow_remote_dc = true
[token_cache]
ttl = "1m"
max_stale = "10m"
lookup_timeout = "500ms"
size = 50
`))
	if err != nil {
		t.Fatal(err)
	}
	if !c.CassandraConfig().AllowRemoteDC {
		t.Error("allow_remote_dc not passed on")
	}
	want := auth.CacheConfig{TTL: time.Minute, MaxStale: 10 * time.Minute, LookupTimeout: 500 * time.Millisecond, Size: 50}
	if got := c.TokenCacheConfig(); got != want {
		t.Errorf("token_cache: %+v, want %+v", got, want)
	}
	for doc, want := range map[string]string{
		"[token_cache]\nttl = \"1h\"":                      "token_cache.ttl",
		"[token_cache]\nttl = \"1m\"\nmax_stale = \"30s\"": "token_cache.max_stale",
		"[token_cache]\nlookup_timeout = \"1ms\"":          "token_cache.lookup_timeout",
		"[token_cache]\nsize = -5":                         "token_cache.size",
		"[token_cache]\nttls = \"1m\"":                     "ttls",
	} {
		if _, err := ParseConfig([]byte("name = \"c1\"\n" + doc)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one naming %s", doc, err, want)
		}
	}
}
