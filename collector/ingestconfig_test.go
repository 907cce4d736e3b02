package collector

import (
	"strings"
	"testing"
	"time"
)

func TestIngestConfig(t *testing.T) {
	for _, tt := range []struct {
		name, doc    string
		store, hello time.Duration
		err          string
	}{
		{"defaults", "", 2 * time.Second, 10 * time.Second, ""},
		{"set", "[ingest]\nstore_deadline = \"500ms\"\nhello_timeout = \"3s\"\n", 500 * time.Millisecond, 3 * time.Second, ""},
		{"store deadline too short", "[ingest]\nstore_deadline = \"10ms\"\n", 0, 0, "ingest.store_deadline 10ms: want 100ms to 1m"},
		{"store deadline too long", "[ingest]\nstore_deadline = \"2m\"\n", 0, 0, "ingest.store_deadline"},
		{"hello timeout too short", "[ingest]\nhello_timeout = \"100ms\"\n", 0, 0, "ingest.hello_timeout 100ms: want 1s to 5m"},
		{"unknown key", "[ingest]\nstore_timeout = \"1s\"\n", 0, 0, `unknown key "ingest.store_timeout"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig([]byte("name = \"c1\"\n" + tt.doc))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want an error containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Ingest.StoreDeadline.Duration != tt.store || c.Ingest.HelloTimeout.Duration != tt.hello {
				t.Fatalf("got %+v", c.Ingest)
			}
		})
	}
}
