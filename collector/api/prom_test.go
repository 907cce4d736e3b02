package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/vigilmon/vigil/collector/store"
)

// promAnswer is the Prometheus API envelope.
type promAnswer struct {
	Status    string          `json:"status"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Data      json.RawMessage `json:"data"`
}

type promResult struct {
	ResultType string          `json:"resultType"`
	Result     json.RawMessage `json:"result"`
}

type promSeries struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
	Values [][2]any          `json:"values"`
}

func (f *fixture) prom(t *testing.T, tok, method, path string, form url.Values) (int, promAnswer) {
	t.Helper()
	var code int
	var body string
	if method == "GET" {
		code, body = f.get(t, "/prometheus/api/v1/"+path+"?"+form.Encode(), bearerAuth(tok))
	} else {
		code, body = f.doForm(t, "/prometheus/api/v1/"+path, form, tok)
	}
	var a promAnswer
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatalf("%s %s: not JSON: %d %s", method, path, code, body)
	}
	return code, a
}

func (f *fixture) doForm(t *testing.T, path string, form url.Values, tok string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", f.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// writeCounter stores n points of counter network/rx_bytes{interface=eth0}
// for agent, 10 s apart ending at now, rising by perSec a second.
func (f *fixture) writeCounter(t *testing.T, tenant, agent string, n int, perSec float64) {
	t.Helper()
	s := store.Series{SeriesKey: store.SeriesKey{Tenant: tenant, Agent: agent, Check: "network", Metric: "rx_bytes",
		Labels: []store.Label{{Key: "interface", Value: "eth0"}}}, Type: store.Counter, Unit: "bytes"}
	s.ID = s.SeriesKey.ID()
	w := &store.WriteRequest{Tenant: tenant, Series: []store.Series{s}}
	for i := 0; i < n; i++ {
		w.Points = append(w.Points, store.Point{Series: s.ID, TS: f.now.UnixMilli() - int64(n-1-i)*10000, Value: float64(i) * 10 * perSec})
	}
	if err := f.store.Write(context.Background(), w); err != nil {
		t.Fatal(err)
	}
}

func sec(f *fixture, back int64) string {
	return strconv.FormatFloat(float64(f.now.UnixMilli()-back*1000)/1000, 'f', -1, 64)
}

func TestPrometheusAPI(t *testing.T) {
	f := newFixture(t)
	f.write(t, "acme", "web-1", 30) // cpu_usage_percent 0..29, the last at now
	f.writeCounter(t, "acme", "web-1", 30, 5)
	f.write(t, "other", "web-1", 60) // same ids, another tenant: 0..59
	read := f.token(t, "acme", store.RoleRead)
	now := sec(f, 0)

	for _, method := range []string{"GET", "POST"} {
		t.Run(method, func(t *testing.T) {
			// Grafana's "Save & test".
			code, a := f.prom(t, read, method, "query", url.Values{"query": {"1+1"}, "time": {now}})
			var r promResult
			decode(t, a.Data, &r)
			if code != 200 || a.Status != "success" || r.ResultType != "scalar" || !strings.Contains(string(r.Result), `"2"`) {
				t.Fatalf("1+1: %d %+v %s", code, a, r.Result)
			}
			// An instant selector: the last value, this tenant's.
			code, a = f.prom(t, read, method, "query", url.Values{"query": {`cpu_usage_percent{agent="web-1"}`}, "time": {now}})
			decode(t, a.Data, &r)
			var v []promSeries
			decode(t, r.Result, &v)
			if code != 200 || r.ResultType != "vector" || len(v) != 1 || v[0].Value[1] != "29" ||
				v[0].Metric["__name__"] != "cpu_usage_percent" || v[0].Metric["agent"] != "web-1" || v[0].Metric["check"] != "cpu" {
				t.Fatalf("instant: %d %s", code, a.Data)
			}
			// rate() over the counter: 5 a second.
			code, a = f.prom(t, read, method, "query", url.Values{"query": {`rate(network_rx_bytes[2m])`}, "time": {now}})
			decode(t, a.Data, &r)
			decode(t, r.Result, &v)
			if code != 200 || len(v) != 1 || v[0].Value[1] != "5" || v[0].Metric["interface"] != "eth0" {
				t.Fatalf("rate: %d %s", code, a.Data)
			}
			// A range query: the raw points, every 10 s.
			code, a = f.prom(t, read, method, "query_range", url.Values{"query": {"cpu_usage_percent"},
				"start": {sec(f, 90)}, "end": {now}, "step": {"10"}})
			decode(t, a.Data, &r)
			decode(t, r.Result, &v)
			if code != 200 || r.ResultType != "matrix" || len(v) != 1 || len(v[0].Values) != 10 || v[0].Values[9][1] != "29" || v[0].Values[0][1] != "20" {
				t.Fatalf("range: %d %s", code, a.Data)
			}
			// series, labels, label values, metadata, buildinfo.
			code, a = f.prom(t, read, method, "series", url.Values{"match[]": {`{agent="web-1"}`}})
			var ss []map[string]string
			decode(t, a.Data, &ss)
			if code != 200 || len(ss) != 2 || ss[0]["__name__"] != "cpu_usage_percent" || ss[1]["__name__"] != "network_rx_bytes" {
				t.Fatalf("series: %d %s", code, a.Data)
			}
			code, a = f.prom(t, read, method, "labels", url.Values{})
			if code != 200 || string(a.Data) != `["__name__","agent","check","interface"]` {
				t.Fatalf("labels: %d %s", code, a.Data)
			}
			code, a = f.prom(t, read, method, "label/__name__/values", url.Values{})
			if code != 200 || string(a.Data) != `["cpu_usage_percent","network_rx_bytes"]` {
				t.Fatalf("label values: %d %s", code, a.Data)
			}
			code, a = f.prom(t, read, method, "metadata", url.Values{})
			if code != 200 || !strings.Contains(string(a.Data), `"network_rx_bytes":[{"type":"counter"`) {
				t.Fatalf("metadata: %d %s", code, a.Data)
			}
			code, a = f.prom(t, read, method, "status/buildinfo", url.Values{})
			if code != 200 || !strings.Contains(string(a.Data), `"version"`) {
				t.Fatalf("buildinfo: %d %s", code, a.Data)
			}
		})
	}

	for _, tt := range []struct {
		name, path string
		form       url.Values
		code       int
		msg        string
	}{
		{"no query", "query", url.Values{}, 400, `"query"`},
		{"bad query", "query", url.Values{"query": {"rate("}}, 400, `"query"`},
		{"bad time", "query", url.Values{"query": {"1"}, "time": {"soon"}}, 400, `"time"`},
		{"no query, range", "query_range", url.Values{"start": {"1"}, "end": {"2"}, "step": {"1"}}, 400, `"query"`},
		{"no start", "query_range", url.Values{"query": {"1"}, "end": {"2"}, "step": {"1"}}, 400, `"start": missing`},
		{"no end", "query_range", url.Values{"query": {"1"}, "start": {"1"}, "step": {"1"}}, 400, `"end": missing`},
		{"no step", "query_range", url.Values{"query": {"1"}, "start": {"1"}, "end": {"2"}}, 400, `"step"`},
		{"bad step", "query_range", url.Values{"query": {"1"}, "start": {"1"}, "end": {"2"}, "step": {"x"}}, 400, `"step"`},
		{"end before start", "query_range", url.Values{"query": {"1"}, "start": {"3"}, "end": {"2"}, "step": {"1"}}, 400, `"end"`},
		{"too many points", "query_range", url.Values{"query": {"1"}, "start": {"0"}, "end": {"100000"}, "step": {"1"}}, 400, "maximum resolution"},
		{"series without match", "series", url.Values{}, 400, "match[]"},
		{"bad match", "series", url.Values{"match[]": {"{"}}, 400, "match[]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, a := f.prom(t, read, "GET", tt.path, tt.form)
			if code != tt.code || a.Status != "error" || !strings.Contains(a.Error, tt.msg) {
				t.Fatalf("%d %+v; want %d containing %s", code, a, tt.code, tt.msg)
			}
		})
	}
	// Wrong role and revoked tokens are refused as on /v1.
	agentTok := f.token(t, "acme", store.RoleAgent)
	if code, _ := f.get(t, "/prometheus/api/v1/query?query=1", bearerAuth(agentTok)); code != 403 {
		t.Fatalf("agent token: %d", code)
	}
}

// TestPromtool runs Debian's promtool (2.42) against the API with the
// token as the password of basic auth, and checks its answers match
// /v1/query.
func TestPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (Debian: apt-get install prometheus; .ci/run installs it)")
	}
	f := newFixture(t)
	f.write(t, "acme", "web-1", 30)
	f.write(t, "other", "web-1", 60)
	read := f.token(t, "acme", store.RoleRead)
	u, _ := url.Parse(f.srv.URL)
	server := "http://vigil:" + read + "@" + u.Host + "/prometheus"
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(promtool, append([]string{"query"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("promtool query %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	// What /v1/query says.
	_, body := f.get(t, "/v1/query?agent=web-1&check=cpu&metric=usage_percent&from=-60s&to=%2B1s", bearerAuth(read))
	var q struct {
		Series []struct{ Points [][2]float64 }
	}
	decode(t, body, &q)
	if len(q.Series) != 1 || len(q.Series[0].Points) != 7 {
		t.Fatalf("/v1/query: %s", body)
	}
	pts := q.Series[0].Points
	last := pts[len(pts)-1]

	out := run("instant", "--time", sec(f, 0), server, `cpu_usage_percent{agent="web-1"}`)
	if want := "=> " + promPoint(last); !strings.Contains(out, want) ||
		!strings.Contains(out, `cpu_usage_percent{agent="web-1", check="cpu"}`) {
		t.Fatalf("promtool query instant: %s\nwant %s", out, want)
	}
	if out := run("instant", "--time", sec(f, 0), server, "1+1"); !strings.Contains(out, "scalar: 2") {
		t.Fatalf("promtool query instant 1+1: %s", out)
	}
	out = run("range", "--start", sec(f, 60), "--end", sec(f, 0), "--step", "10s", server, "cpu_usage_percent")
	for _, p := range pts {
		if want := promPoint(p); !strings.Contains(out, want) {
			t.Errorf("promtool query range lacks %s (from /v1/query):\n%s", want, out)
		}
	}
	out = run("series", "--match", `{agent="web-1"}`, "--start", sec(f, 3600), "--end", sec(f, 0), server)
	if strings.TrimSpace(out) != `{__name__="cpu_usage_percent", agent="web-1", check="cpu"}` {
		t.Fatalf("promtool query series: %s", out)
	}
	out = run("labels", server, "__name__")
	if strings.TrimSpace(out) != "cpu_usage_percent" {
		t.Fatalf("promtool query labels: %s", out)
	}
}

// promPoint is how promtool prints a point: value @[unix seconds].
func promPoint(p [2]float64) string {
	return strconv.FormatFloat(p[1], 'f', -1, 64) + " @[" + strconv.FormatFloat(p[0]/1000, 'f', -1, 64) + "]"
}

// TestPrometheusLongRangeReadsRollups: a 30-day graph reads the hourly
// rollups (here the only data), one sample per window at its end.
func TestPrometheusLongRangeReadsRollups(t *testing.T) {
	f := newFixture(t)
	f.write(t, "acme", "web-1", 1) // defines the series
	id := (&store.SeriesKey{Tenant: "acme", Agent: "web-1", Check: "cpu", Metric: "usage_percent"}).ID()
	const hour = int64(3600_000)
	end := store.Floor(f.now.UnixMilli(), hour)
	var rs []store.Rollup
	for ts := end - 30*24*hour; ts < end; ts += hour {
		v := float64((ts / hour) % 24)
		rs = append(rs, store.Rollup{Series: id, TS: ts, Count: 360, Sum: 360 * v, Min: v, Max: v, First: v, Last: v})
	}
	if err := f.store.WriteRollups(context.Background(), store.Res1h, rs); err != nil {
		t.Fatal(err)
	}
	read := f.token(t, "acme", store.RoleRead)
	code, a := f.prom(t, read, "GET", "query_range", url.Values{"query": {"cpu_usage_percent"},
		"start": {strconv.FormatInt((end-29*24*hour)/1000, 10)}, "end": {strconv.FormatInt(end/1000, 10)}, "step": {"3600"}})
	var r promResult
	decode(t, a.Data, &r)
	var v []promSeries
	decode(t, r.Result, &v)
	if code != 200 || len(v) != 1 || len(v[0].Values) != 29*24+1 {
		t.Fatalf("30 days at 1h: %d %.300s", code, a.Data)
	}
	// The sample at t is the window that ended at t.
	for _, p := range v[0].Values {
		ts, _ := strconv.ParseFloat(fmt.Sprint(p[0]), 64)
		want := strconv.FormatInt((int64(ts*1000)/hour-1)%24, 10)
		if p[1] != want {
			t.Fatalf("at %v: %v, want %s", p[0], p[1], want)
		}
	}
}
