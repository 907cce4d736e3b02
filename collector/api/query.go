package api

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vigilmon/vigil/collector/store"
)

const (
	defaultPoints = 500
	maxPoints     = 11000
	maxSeries     = 1000
	maxRange      = 400 * 24 * time.Hour
	defaultRange  = time.Hour
)

type agentJSON struct {
	ID        string            `json:"id"`
	Hostname  string            `json:"hostname"`
	Connected bool              `json:"connected"`
	Collector string            `json:"collector,omitempty"`
	LastSeen  time.Time         `json:"last_seen"`
	Version   string            `json:"version"`
	Labels    map[string]string `json:"labels"`
}

func (a *API) agents(w http.ResponseWriter, r *http.Request, tok store.Token) {
	if !allowParams(w, r) {
		return
	}
	list, err := a.Store.Agents(r.Context(), tok.Tenant)
	if err != nil {
		a.storeError(w, "list agents", tok, err)
		return
	}
	out := make([]agentJSON, 0, len(list))
	for _, ag := range list {
		labels := ag.Labels
		if labels == nil {
			labels = map[string]string{}
		}
		out = append(out, agentJSON{ID: ag.ID, Hostname: ag.Hostname, Connected: ag.Connected, Collector: ag.Collector,
			LastSeen: ag.LastSeen, Version: ag.Version, Labels: labels})
	}
	writeJSON(w, http.StatusOK, map[string]any{"agents": out})
}

type seriesJSON struct {
	ID     string            `json:"id"`
	Agent  string            `json:"agent"`
	Check  string            `json:"check"`
	Metric string            `json:"metric"`
	Labels map[string]string `json:"labels"`
	Type   string            `json:"type"`
	Unit   string            `json:"unit"`
}

func (a *API) series(w http.ResponseWriter, r *http.Request, tok store.Token) {
	if !allowParams(w, r, "agent", "check", "metric", "label") {
		return
	}
	f, ok := filter(w, r.URL.Query(), tok)
	if !ok {
		return
	}
	list, err := a.Store.Series(r.Context(), f)
	if err != nil {
		a.storeError(w, "list series", tok, err)
		return
	}
	out := make([]seriesJSON, 0, len(list))
	for _, s := range list {
		out = append(out, seriesJSON{ID: s.ID.String(), Agent: s.Agent, Check: s.Check, Metric: s.Metric,
			Labels: labelMap(s.Labels), Type: s.Type.String(), Unit: s.Unit})
	}
	writeJSON(w, http.StatusOK, map[string]any{"series": out})
}

type queryJSON struct {
	Agent      string            `json:"agent"`
	Check      string            `json:"check"`
	Metric     string            `json:"metric"`
	Labels     map[string]string `json:"labels"`
	Resolution string            `json:"resolution"`
	Points     [][2]any          `json:"points"`
}

func (a *API) query(w http.ResponseWriter, r *http.Request, tok store.Token) {
	if !allowParams(w, r, "agent", "check", "metric", "label", "from", "to", "points", "resolution", "agg", "fn") {
		return
	}
	q := r.URL.Query()
	f, ok := filter(w, q, tok)
	if !ok {
		return
	}
	now := a.now()
	to, err := parseTime(q.Get("to"), now, now)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "to: "+err.Error())
		return
	}
	from, err := parseTime(q.Get("from"), now, to.Add(-defaultRange))
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "from: "+err.Error())
		return
	}
	if !from.Before(to) {
		writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("from (%s) must be before to (%s)", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339)))
		return
	}
	if to.Sub(from) > maxRange {
		writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("from..to spans %v; at most %v allowed", to.Sub(from).Round(time.Second), maxRange))
		return
	}
	points := defaultPoints
	if s := q.Get("points"); s != "" {
		points, err = strconv.Atoi(s)
		if err != nil || points < 1 || points > maxPoints {
			writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("points %q: want a whole number from 1 to %d", s, maxPoints))
			return
		}
	}
	switch res := q.Get("resolution"); res {
	case "", "raw":
	default:
		writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("resolution %q: only raw is available", res))
		return
	}
	for _, p := range []string{"agg", "fn"} {
		if v := q.Get(p); v != "" {
			writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("%s %q: not supported by this collector", p, v))
			return
		}
	}
	list, err := a.Store.Series(r.Context(), f)
	if err != nil {
		a.storeError(w, "query series", tok, err)
		return
	}
	if len(list) > maxSeries {
		writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("the query matches %d series, at most %d allowed: add agent, check, metric or label", len(list), maxSeries))
		return
	}
	out := make([]queryJSON, 0, len(list))
	for _, s := range list {
		pts, err := a.Store.Points(r.Context(), s.ID, from.UnixMilli(), to.UnixMilli(), 0)
		if err != nil {
			a.storeError(w, "read points", tok, err)
			return
		}
		out = append(out, queryJSON{Agent: s.Agent, Check: s.Check, Metric: s.Metric, Labels: labelMap(s.Labels),
			Resolution: "raw", Points: thin(pts, s.Type, points)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"series": out})
}

// thin returns at most n points. When there are more, it keeps every k-th
// point rather than averaging, so each returned point is a real reading.
func thin(pts []store.Point, t store.MetricType, n int) [][2]any {
	step := 1
	if len(pts) > n {
		step = int(math.Ceil(float64(len(pts)) / float64(n)))
	}
	out := make([][2]any, 0, min(len(pts), n))
	// Walk from the newest so the latest point is always included.
	start := (len(pts) - 1) % step
	for i := start; i < len(pts); i += step {
		p := pts[i]
		if t == store.String {
			out = append(out, [2]any{p.TS, p.Str})
		} else {
			out = append(out, [2]any{p.TS, json.Number(strconv.FormatFloat(p.Value, 'g', -1, 64))})
		}
	}
	return out
}

func (a *API) storeError(w http.ResponseWriter, what string, tok store.Token, err error) {
	a.Log.Error("store error", "op", what, "tenant", tok.Tenant, "err", err)
	writeError(w, http.StatusServiceUnavailable, "unavailable", what+": the store failed; try again")
}

// allowParams refuses parameters the endpoint does not know, so a typo
// such as ?metirc= is an error instead of a silently wider answer.
func allowParams(w http.ResponseWriter, r *http.Request, known ...string) bool {
	for k := range r.URL.Query() {
		ok := false
		for _, n := range known {
			if k == n {
				ok = true
				break
			}
		}
		if !ok {
			writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("unknown parameter %q (known: %s)", k, strings.Join(known, ", ")))
			return false
		}
	}
	return true
}

func filter(w http.ResponseWriter, q url.Values, tok store.Token) (store.SeriesFilter, bool) {
	f := store.SeriesFilter{Tenant: tok.Tenant, Agent: q.Get("agent"), Check: q.Get("check"), Metric: q.Get("metric")}
	labels := q["label"]
	if len(labels) > 16 {
		writeError(w, http.StatusBadRequest, "bad_request", "label: at most 16 label filters")
		return f, false
	}
	for _, l := range labels {
		k, v, ok := strings.Cut(l, ":")
		if !ok || k == "" {
			writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("label %q: want key:value", l))
			return f, false
		}
		f.Labels = append(f.Labels, store.Label{Key: k, Value: v})
	}
	return f, true
}

func labelMap(ls []store.Label) map[string]string {
	m := make(map[string]string, len(ls))
	for _, l := range ls {
		m[l.Key] = l.Value
	}
	return m
}

// parseTime reads RFC 3339, milliseconds since the epoch, "now", or a
// duration relative to now such as -5m, -1h or -7d.
func parseTime(s string, now, def time.Time) (time.Time, error) {
	switch {
	case s == "":
		return def, nil
	case s == "now":
		return now, nil
	case s[0] == '-' || s[0] == '+':
		d, err := parseDuration(s[1:])
		if err != nil {
			return time.Time{}, fmt.Errorf("%q: %v", s, err)
		}
		if s[0] == '-' {
			d = -d
		}
		return now.Add(d), nil
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want RFC 3339, milliseconds since the epoch, or relative such as -1h", s)
	}
	return t, nil
}

// parseDuration is time.ParseDuration plus a "d" unit for days.
func parseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.ParseFloat(n, 64)
		if err != nil || days < 0 || days > 10000 {
			return 0, fmt.Errorf("bad number of days")
		}
		return time.Duration(days * 24 * float64(time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("bad duration (use s, m, h or d)")
	}
	return d, nil
}
