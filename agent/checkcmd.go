package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vigilmon/vigil/agent/check"
	"github.com/vigilmon/vigil/agent/config"
	"github.com/vigilmon/vigil/agent/plugin"
)

// Report is one check run as `vigil-agent check` prints it.
type Report struct {
	Check      string         `json:"check"`
	Status     string         `json:"status"`
	Message    string         `json:"message"`
	DurationMS int64          `json:"duration_ms"`
	Metrics    []ReportMetric `json:"metrics"`
	// Ran is false when the check could not run (error, timeout, refused).
	Ran bool `json:"-"`
}

// Exit statuses of `vigil-agent check --plugin`, as a Nagios plugin's.
const (
	ExitOK      = 0
	ExitWarn    = 1
	ExitCrit    = 2
	ExitUnknown = 3 // also: the plugin could not run (not found, refused, timed out, unreadable output)
)

// ExitCode is the exit status a Nagios plugin would give for r: 0 ok,
// 1 warn, 2 crit, 3 unknown or not run. `vigil-agent check --plugin` exits
// with it, so that a Nagios or Sensu server can run plugins through the
// agent's runner and read the status as it would the plugin's own.
func (r Report) ExitCode() int {
	if !r.Ran {
		return ExitUnknown
	}
	switch r.Status {
	case check.OK.String():
		return ExitOK
	case check.Warn.String():
		return ExitWarn
	case check.Crit.String():
		return ExitCrit
	}
	return ExitUnknown
}

// ReportMetric is one metric of a Report.
type ReportMetric struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels"`
	Type   string            `json:"type"`
	Value  any               `json:"value"`
	Unit   string            `json:"unit"`
}

// sampleGap separates the two runs of a built-in check in RunChecks, so
// checks that report differences (cpu) have something to compare.
const sampleGap = time.Second

// twoSamples are the built-in checks whose first run only primes a
// reading (cpu reports the time spent since its previous run): RunChecks
// runs them twice. Every other check reports all it has on its first run,
// and `check load` or `check memory` should not wait sampleGap for nothing.
var twoSamples = map[string]bool{"cpu": true}

// RunChecks runs the named checks once each, as `vigil-agent check` does.
// "all" means every check the config enables. A built-in check that the
// config does not enable runs with its defaults. Built-in checks that
// compare with a previous reading (twoSamples) run twice, sampleGap apart,
// and the second run is reported; the wait happens only when one of them
// is asked for.
func RunChecks(ctx context.Context, cfg *config.Config, names []string, log *slog.Logger) ([]Report, error) {
	type entry struct {
		id  string
		c   check.Check
		tmo time.Duration
		two bool
	}
	var entries []entry
	runner := plugin.NewRunner(plugin.RunnerOptions{Dir: cfg.Agent.PluginDir, Concurrency: cfg.Agent.PluginConcurrency, Logger: log})
	add := func(name string) error {
		if cc, ok := cfg.Checks[name]; ok {
			f, _ := check.Lookup(name)
			c, err := f.New(cc.Options)
			if err != nil {
				return fmt.Errorf("checks.%s: %w", name, err)
			}
			entries = append(entries, entry{name, c, cc.Timeout, twoSamples[name]})
			return nil
		}
		if f, ok := check.Lookup(name); ok {
			c, err := f.New(f.Options())
			if err != nil {
				return fmt.Errorf("check %s: %w", name, err)
			}
			entries = append(entries, entry{name, c, config.DefaultInterval, twoSamples[name]})
			return nil
		}
		id := name
		if !strings.HasPrefix(id, "plugin.") {
			id = "plugin." + name
		}
		if pc, ok := cfg.Plugins[id]; ok {
			entries = append(entries, entry{id, runner.Check(pc.Plugin, id, pc.Interval), pc.Plugin.Timeout.Duration + pluginGrace, false})
			return nil
		}
		return fmt.Errorf("no check %q: built-in checks are %s; plugins come from [plugins.NAME] in the config", name, strings.Join(builtinNames(), ", "))
	}
	for _, n := range names {
		if n != "all" {
			if err := add(n); err != nil {
				return nil, err
			}
			continue
		}
		var all []string
		for name := range cfg.Checks {
			all = append(all, name)
		}
		for id := range cfg.Plugins {
			all = append(all, id)
		}
		sort.Strings(all)
		for _, name := range all {
			if err := add(name); err != nil {
				return nil, err
			}
		}
	}
	firstRun := make([]check.Result, len(entries))
	anyTwice := false
	for i, e := range entries {
		if e.two {
			anyTwice = true
			runCheck(ctx, e.id, e.c, e.tmo, &firstRun[i])
		}
	}
	if anyTwice {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(sampleGap):
		}
	}
	reports := make([]Report, len(entries))
	for i, e := range entries {
		reports[i] = runCheck(ctx, e.id, e.c, e.tmo, &check.Result{})
	}
	return reports, nil
}

// RunPlugin runs one plugin once, as `vigil-agent check --plugin` does.
func RunPlugin(ctx context.Context, cfg plugin.Config) Report {
	begin := time.Now()
	r, err := plugin.RunOnce(ctx, cfg)
	base := filepath.Base(cfg.Path)
	return report("plugin."+strings.TrimSuffix(base, filepath.Ext(base)), &r, err, time.Since(begin))
}

func runCheck(ctx context.Context, id string, c check.Check, timeout time.Duration, r *check.Result) Report {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	begin := time.Now()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("check panicked: %v", p)
			}
		}()
		done <- c.Run(cctx, r)
	}()
	select {
	case err := <-done:
		return report(id, r, err, time.Since(begin))
	case <-cctx.Done():
		return report(id, &check.Result{}, fmt.Errorf("timed out after %v", timeout), time.Since(begin))
	}
}

func report(id string, r *check.Result, err error, took time.Duration) Report {
	rep := Report{Check: id, Status: r.Status.String(), Message: r.Message, DurationMS: took.Milliseconds(), Ran: err == nil, Metrics: []ReportMetric{}}
	if r.Status == 0 {
		rep.Status = check.OK.String()
	}
	if err != nil {
		rep.Status = check.Unknown.String()
		rep.Message = err.Error()
	}
	for _, m := range r.Metrics {
		rm := ReportMetric{Name: m.Name, Labels: map[string]string{}, Type: m.Type.String(), Unit: m.Unit, Value: m.Value}
		if m.Type == check.String {
			rm.Value = m.Str
		}
		for _, l := range m.Labels {
			rm.Labels[l.Key] = l.Value
		}
		rep.Metrics = append(rep.Metrics, rm)
	}
	return rep
}

// WriteReports prints reports as a table, or as a JSON array.
func WriteReports(w io.Writer, reports []Report, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(reports)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i, r := range reports {
		if i > 0 {
			fmt.Fprintln(tw)
		}
		fmt.Fprintf(tw, "%s\t%s\t%dms\t%s\n", r.Check, strings.ToUpper(r.Status), r.DurationMS, r.Message)
		for _, m := range r.Metrics {
			v := fmt.Sprint(m.Value)
			if f, ok := m.Value.(float64); ok {
				v = strconv.FormatFloat(f, 'f', -1, 64)
			}
			fmt.Fprintf(tw, "  %s%s\t%s\t%s %s\t\n", m.Name, labelText(m.Labels), m.Type, v, m.Unit)
		}
	}
	return tw.Flush()
}

func labelText(ls map[string]string) string {
	if len(ls) == 0 {
		return ""
	}
	keys := make([]string, 0, len(ls))
	for k := range ls {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Quote(ls[k])
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func builtinNames() []string {
	var out []string
	for _, f := range check.All() {
		out = append(out, f.Name)
	}
	return out
}
