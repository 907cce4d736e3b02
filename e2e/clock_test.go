package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/api"
	"github.com/vigilmon/vigil/collector/auth"
	"github.com/vigilmon/vigil/collector/ingest"
	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/collector/store/pebble"
	"github.com/vigilmon/vigil/protocol"
)

// The real agent binary, against a collector (in process, so its clock can
// be set) whose clock is 5 minutes ahead of the host's: the agent logs a
// warning with the offset and stores clock_offset_seconds ≈ 300 in its
// agent check.
func TestAgentReportsClockOffset(t *testing.T) {
	agentBin, _ := binaries(t)
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	st, err := pebble.Open(filepath.Join(dir, "store"), pebble.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	agentTok, _, err := auth.Create(ctx, st, "acme", store.RoleAgent, "skewed")
	if err != nil {
		t.Fatal(err)
	}
	readTok, _, err := auth.Create(ctx, st, "acme", store.RoleRead, "")
	if err != nil {
		t.Fatal(err)
	}
	cert, caFile := selfSignedFiles(t, dir)
	srv := &ingest.Server{Store: st, Log: log, Name: "c1", Validator: ingest.Validator{MaxAge: time.Hour},
		MaxInflight: 4, MaxFrameBytes: protocol.DefaultMaxFrameBytes,
		Now: func() time.Time { return time.Now().Add(5 * time.Minute) }}
	ln, err := srv.Listen("127.0.0.1:0", cert)
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := srv.Serve(sctx, ln); err != nil {
			t.Errorf("ingest: %v", err)
		}
	})
	defer func() { stop(); ln.Close(); wg.Wait() }()
	apiSrv := httptest.NewServer((&api.API{Store: st, Log: log}).Handler())
	defer apiSrv.Close()

	conf := filepath.Join(dir, "agent.toml")
	if err := os.WriteFile(conf, fmt.Appendf(nil, `[agent]
id = "skewed"
token = %q
state_dir = %q
interval = "1s"

[transport]
collectors = [%q]
ca_file = %q
`, agentTok, filepath.Join(dir, "agent"), ln.Addr().String(), caFile), 0o600); err != nil {
		t.Fatal(err)
	}
	ag := start(t, agentBin, "run", "--config", conf)

	warned := regexp.MustCompile(`clock differs from the collector's.*clock_offset_seconds=(\S+)`)
	waitFor(t, 20*time.Second, "the clock warning", func() bool { return warned.MatchString(ag.output()) })
	logged, _ := strconv.ParseFloat(warned.FindStringSubmatch(ag.output())[1], 64)
	if logged < 298 || logged > 302 {
		t.Fatalf("logged clock_offset_seconds=%v, want about 300", logged)
	}
	var stored float64
	waitFor(t, 20*time.Second, "clock_offset_seconds stored", func() bool {
		req, _ := http.NewRequest("GET", apiSrv.URL+"/v1/query?agent=skewed&check=agent&metric=clock_offset_seconds&from=-5m", nil)
		req.Header.Set("Authorization", "Bearer "+readTok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var a queryAnswer
		if json.NewDecoder(resp.Body).Decode(&a) != nil || len(a.Series) == 0 || len(a.Series[0].Points) == 0 {
			return false
		}
		stored = a.Series[0].Points[len(a.Series[0].Points)-1][1]
		return true
	})
	if stored < 298 || stored > 302 {
		t.Fatalf("stored clock_offset_seconds %v, want about 300", stored)
	}
}
