package api

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/vigilmon/vigil/collector/auth"
	"github.com/vigilmon/vigil/collector/store"
)

// TestCrossTenantEveryEndpoint gives two tenants agents, checks and
// metrics of identical names, and shows through every endpoint, PromQL
// included, that tenant a sees nothing of tenant b: not its values,
// messages, agents, checks or tokens, and that b's own resources answer
// exactly as unknown ones.
func TestCrossTenantEveryEndpoint(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, tn := range []string{"a", "b"} {
		f.write(t, tn, "web-1", 30)
		f.writeCounter(t, tn, "web-1", 30, 5)
		f.results(t, tn, "web-1", "cpu", store.StatusOK, store.StatusWarn)
	}
	// What only b has, and values and messages only b's data carry.
	secret := "7777"
	sr := store.Series{SeriesKey: store.SeriesKey{Tenant: "b", Agent: "web-1", Check: "cpu", Metric: "usage_percent"}, Type: store.Gauge}
	sr.ID = sr.SeriesKey.ID()
	if err := f.store.Write(ctx, &store.WriteRequest{Tenant: "b", Series: []store.Series{sr},
		Points:  []store.Point{{Series: sr.ID, TS: f.now.UnixMilli() - 5000, Value: 77777}},
		Results: []store.CheckResult{{Agent: "web-1", Check: "cpu", TS: f.now.UnixMilli() - 5000, Status: store.StatusCrit, Message: "secret-7777"}}}); err != nil {
		t.Fatal(err)
	}
	f.write(t, "b", "only-b-7777", 3)
	f.results(t, "b", "only-b-7777", "plugin.b7777", store.StatusCrit)
	f.results(t, "b", "web-1", "plugin.b7777", store.StatusCrit)
	_, bTok, err := auth.Create(ctx, f.store, "b", store.RoleRead, "")
	if err != nil {
		t.Fatal(err)
	}
	readA := f.token(t, "a", store.RoleRead)
	adminA := f.token(t, "a", store.RoleAdmin)
	now := sec(f, 0)

	// Every read endpoint answers a's data and nothing of b's.
	reads := [][2]string{ // path, something of a's that the answer holds
		{"/v1/agents", `"id":"web-1"`},
		{"/v1/agents/web-1/checks", `"message":"warn 1"`},
		{"/v1/checks/web-1/cpu/history?from=-1h&to=%2B1m", `"status":"warn"`},
		{"/v1/series", `"metric":"rx_bytes"`},
		{"/v1/series?agent=web-1", `"metric":"usage_percent"`},
		{"/v1/query?from=-1h&to=%2B1m", `,29]`},
		{"/v1/query?agent=web-1&check=network&fn=rate&from=-1h&to=%2B1m", `,5]`},
		{"/v1/latest?agent=web-1", `"value":29`},
		{"/prometheus/api/v1/query?" + url.Values{"query": {`{agent=~".+"}`}, "time": {now}}.Encode(), `"29"]`},
		{"/prometheus/api/v1/query?" + url.Values{"query": {`count({__name__=~".+"})`}, "time": {now}}.Encode(), `"2"]`},
		{"/prometheus/api/v1/query?" + url.Values{"query": {`rate(network_rx_bytes[2m])`}, "time": {now}}.Encode(), `"5"]`},
		{"/prometheus/api/v1/query_range?" + url.Values{"query": {`max(cpu_usage_percent)`}, "start": {sec(f, 600)}, "end": {now}, "step": {"5"}}.Encode(), `"29"]`},
		{"/prometheus/api/v1/series?" + url.Values{"match[]": {`{__name__=~".+"}`}}.Encode(), `"agent":"web-1"`},
		{"/prometheus/api/v1/labels", `"interface"`},
		{"/prometheus/api/v1/label/agent/values", `["web-1"]`},
		{"/prometheus/api/v1/label/check/values", `["cpu","network"]`},
		{"/prometheus/api/v1/metadata", `"cpu_usage_percent"`},
	}
	for _, r := range reads {
		code, body := f.get(t, r[0], bearerAuth(readA))
		if code != 200 || strings.Contains(body, secret) || !strings.Contains(body, r[1]) {
			t.Errorf("%s: %d %s; want a's %s and nothing with %s", r[0], code, body, r[1], secret)
		}
	}
	// PromQL counts only a's series (cpu and network of web-1).
	if _, body := f.get(t, "/prometheus/api/v1/query?"+url.Values{"query": {`count({__name__=~".+"})`}, "time": {now}}.Encode(), bearerAuth(readA)); !strings.Contains(body, `"2"]`) {
		t.Errorf("count of a's series: %s", body)
	}
	// /v1/query gives a's 30 cpu points of web-1, not b's extra one.
	if _, body := f.get(t, "/v1/query?agent=web-1&check=cpu&from=-1h&to=%2B1m", bearerAuth(readA)); strings.Count(body, "],[") != 29 {
		t.Errorf("a's cpu points: %s", body)
	}

	// b's agent, check and token: the same 404 as unknown ones.
	for _, pair := range [][2]string{
		{"/v1/agents/only-b-7777/checks", "/v1/agents/only-c-7777/checks"},
		{"/v1/checks/web-1/plugin.b7777/history", "/v1/checks/web-1/plugin.c7777/history"},
		{"/v1/checks/only-b-7777/plugin.b7777/history", "/v1/checks/only-c-7777/plugin.b7777/history"},
	} {
		c1, b1 := f.get(t, pair[0], bearerAuth(readA))
		c2, b2 := f.get(t, pair[1], bearerAuth(readA))
		if c1 != 404 || c2 != 404 || strings.ReplaceAll(b1, "only-b", "only-c") != strings.ReplaceAll(strings.ReplaceAll(b2, "c7777", "b7777"), "only-b", "only-c") {
			t.Errorf("%s: %d %s; unknown %s: %d %s", pair[0], c1, b1, pair[1], c2, b2)
		}
	}
	if _, body := f.get(t, "/v1/tokens", bearerAuth(adminA)); strings.Contains(body, bTok.ID) || strings.Contains(body, `"tenant":"b"`) {
		t.Errorf("a's admin lists b's tokens: %s", body)
	}
	c1, b1 := f.do(t, "DELETE", "/v1/tokens/"+bTok.ID, "", bearerAuth(adminA))
	c2, b2 := f.do(t, "DELETE", "/v1/tokens/000000000000", "", bearerAuth(adminA))
	if c1 != 404 || c2 != 404 || strings.Replace(b1, bTok.ID, "000000000000", 1) != b2 {
		t.Errorf("revoking b's token as a: %d %s; unknown: %d %s", c1, b1, c2, b2)
	}
	if got, _ := f.store.TokenByHash(ctx, bTok.Hash); !got.Revoked.IsZero() {
		t.Error("a's admin revoked b's token")
	}
	// A token created by a's admin belongs to a, whatever the body says.
	code, body := f.do(t, "POST", "/v1/tokens", `{"role":"read"}`, bearerAuth(adminA))
	var created tokenJSON
	decode(t, body, &created)
	if code != 201 || created.Tenant != "a" {
		t.Errorf("create: %d %s", code, body)
	}
}
