package check

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRegistry(t *testing.T) {
	var names []string
	for _, f := range All() {
		names = append(names, f.Name)
		if !f.Default {
			t.Errorf("%s: not on by default", f.Name)
		}
		if _, err := f.New(f.Options()); err != nil {
			t.Errorf("%s: New(defaults): %v", f.Name, err)
		}
		if _, err := f.New(nil); err != nil {
			t.Errorf("%s: New(nil): %v", f.Name, err)
		}
	}
	want := []string{"cpu", "disk", "filesystem", "load", "memory", "network", "system"}
	if !slices.Equal(names, want) {
		t.Fatalf("registered %v, want %v", names, want)
	}
}

func newCheck(t testing.TB, name string, opts any) Check {
	t.Helper()
	f, ok := Lookup(name)
	if !ok {
		t.Fatalf("check %q not registered", name)
	}
	if opts == nil {
		opts = f.Options()
	}
	c, err := f.New(opts)
	if err != nil {
		t.Fatalf("%s: New: %v", name, err)
	}
	return c
}

func run(t testing.TB, name string, c Check) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r := &Result{}
	if err := c.Run(ctx, r); err != nil {
		t.Fatalf("%s: Run: %v", name, err)
	}
	conform(t, name, r)
	return r
}

// conform checks a result against the check's declared metrics (its Def):
// declared names, their type, the check's label keys, finite non-negative
// values, percents in [0, 100], each series once.
func conform(t testing.TB, name string, r *Result) {
	t.Helper()
	f, ok := Lookup(name)
	if !ok {
		t.Fatalf("check %q not registered", name)
	}
	seen := map[string]bool{}
	for _, m := range r.Metrics {
		def, ok := f.Metric(m.Name)
		if !ok {
			t.Errorf("%s: metric %q not declared", name, m.Name)
		} else if m.Type != def.Type {
			t.Errorf("%s: %s is a %v, declared a %v", name, m.Name, m.Type, def.Type)
		}
		var keys []string
		for _, l := range m.Labels {
			keys = append(keys, l.Key)
			if l.Value == "" {
				t.Errorf("%s: %s: empty label %s", name, m.Name, l.Key)
			}
		}
		if !slices.Equal(keys, f.Labels) {
			t.Errorf("%s: %s has labels %v, declared %v", name, m.Name, keys, f.Labels)
		}
		if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) || m.Value < 0 {
			t.Errorf("%s: %s%v = %v", name, m.Name, m.Labels, m.Value)
		}
		if strings.HasSuffix(m.Name, "_percent") && m.Value > 100 {
			t.Errorf("%s: %s%v = %v > 100", name, m.Name, m.Labels, m.Value)
		}
		k := seriesKey(m)
		if seen[k] {
			t.Errorf("%s: series %s twice", name, k)
		}
		seen[k] = true
	}
}

// declared returns the names of the check's declared metrics.
func declared(t testing.TB, name string) []string {
	t.Helper()
	f, ok := Lookup(name)
	if !ok {
		t.Fatalf("check %q not registered", name)
	}
	var out []string
	for _, m := range f.Metrics {
		out = append(out, m.Name)
	}
	return out
}

func seriesKey(m Metric) string {
	var b strings.Builder
	b.WriteString(m.Name)
	for _, l := range m.Labels {
		b.WriteString("|" + l.Key + "=" + l.Value)
	}
	return b.String()
}

// values maps metric name → value, for checks without labels.
func values(r *Result) map[string]float64 {
	v := map[string]float64{}
	for _, m := range r.Metrics {
		v[m.Name] = m.Value
	}
	return v
}

// byLabel maps a label value → metric name → value.
func byLabel(r *Result, key string) map[string]map[string]float64 {
	out := map[string]map[string]float64{}
	for _, m := range r.Metrics {
		for _, l := range m.Labels {
			if l.Key == key {
				if out[l.Value] == nil {
					out[l.Value] = map[string]float64{}
				}
				out[l.Value][m.Name] = m.Value
			}
		}
	}
	return out
}

func TestCPU(t *testing.T) {
	c := newCheck(t, "cpu", nil)
	r := run(t, "cpu", c)
	v := values(r)
	if len(r.Metrics) != 1 || v["count"] < 1 {
		t.Fatalf("first run: got %v, want only count ≥ 1", r.Metrics)
	}
	// Let the CPU times move by a few clock ticks, keeping one CPU busy.
	for deadline := time.Now().Add(100 * time.Millisecond); time.Now().Before(deadline); {
	}
	r = run(t, "cpu", c)
	v = values(r)
	if len(r.Metrics) != len(declared(t, "cpu")) {
		t.Fatalf("second run: got %v, want all of %v", r.Metrics, declared(t, "cpu"))
	}
	sum := v["user_percent"] + v["system_percent"] + v["iowait_percent"] + v["steal_percent"] + v["idle_percent"]
	if math.Abs(sum-100) > 0.01 {
		t.Errorf("user+system+iowait+steal+idle = %v, want 100", sum)
	}
	if u := 100 - v["idle_percent"] - v["iowait_percent"]; math.Abs(u-v["usage_percent"]) > 0.01 {
		t.Errorf("usage_percent = %v, want 100 - idle - iowait = %v", v["usage_percent"], u)
	}
	if v["usage_percent"] <= 0 {
		t.Errorf("usage_percent = 0 while this test kept a CPU busy")
	}
}

func TestCPUPercents(t *testing.T) {
	prev := cpuTimes{user: 100, nice: 10, system: 50, idle: 800, iowait: 20, irq: 5, softirq: 5, steal: 10}
	tests := []struct {
		name string
		cur  cpuTimes
		want map[string]float64 // nil: no percents
	}{
		{"no time passed", prev, nil},
		{"all idle", cpuTimes{user: 100, nice: 10, system: 50, idle: 900, iowait: 20, irq: 5, softirq: 5, steal: 10},
			map[string]float64{"usage_percent": 0, "idle_percent": 100, "user_percent": 0}},
		{"mixed", cpuTimes{user: 130, nice: 20, system: 60, idle: 820, iowait: 30, irq: 10, softirq: 10, steal: 20},
			map[string]float64{"usage_percent": 70, "user_percent": 40, "system_percent": 20,
				"iowait_percent": 10, "steal_percent": 10, "idle_percent": 20}},
		{"iowait went backwards", cpuTimes{user: 150, nice: 10, system: 50, idle: 850, iowait: 10, irq: 5, softirq: 5, steal: 10},
			map[string]float64{"usage_percent": 50, "user_percent": 50, "iowait_percent": 0, "idle_percent": 50}},
		{"counters reset", cpuTimes{user: 1, idle: 1},
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Result{}
			ok := cpuPercents(r, prev, tt.cur)
			if ok != (tt.want != nil) {
				t.Fatalf("cpuPercents = %v, want %v", ok, tt.want != nil)
			}
			conform(t, "cpu", r)
			got := values(r)
			for k, w := range tt.want {
				if math.Abs(got[k]-w) > 1e-9 {
					t.Errorf("%s = %v, want %v", k, got[k], w)
				}
			}
		})
	}
}

func TestMemory(t *testing.T) {
	v := values(run(t, "memory", newCheck(t, "memory", nil)))
	if len(v) != len(declared(t, "memory")) {
		t.Fatalf("got %v", v)
	}
	if v["total_bytes"] < 1<<20 {
		t.Errorf("total_bytes = %v", v["total_bytes"])
	}
	if v["used_bytes"]+v["available_bytes"] != v["total_bytes"] {
		t.Errorf("used %v + available %v != total %v", v["used_bytes"], v["available_bytes"], v["total_bytes"])
	}
	if v["swap_used_bytes"] > v["swap_total_bytes"] {
		t.Errorf("swap used %v > total %v", v["swap_used_bytes"], v["swap_total_bytes"])
	}
	if p := 100 * v["used_bytes"] / v["total_bytes"]; math.Abs(p-v["used_percent"]) > 1e-9 {
		t.Errorf("used_percent = %v, want %v", v["used_percent"], p)
	}
}

func TestLoad(t *testing.T) {
	v := values(run(t, "load", newCheck(t, "load", nil)))
	if len(v) != 3 {
		t.Fatalf("got %v", v)
	}
}

func TestSystem(t *testing.T) {
	c := newCheck(t, "system", nil)
	v1 := values(run(t, "system", c))
	time.Sleep(20 * time.Millisecond)
	v2 := values(run(t, "system", c))
	if v1["uptime_seconds"] <= 0 || v2["uptime_seconds"] < v1["uptime_seconds"] {
		t.Errorf("uptime_seconds %v then %v", v1["uptime_seconds"], v2["uptime_seconds"])
	}
	if v1["processes"] < 1 {
		t.Errorf("processes = %v", v1["processes"])
	}
	if _, ok := v1["users"]; !ok {
		t.Logf("users left out: this host keeps no record of login sessions")
	}
}

// TestCountersNonDecreasing runs the counter checks twice: every series of
// the first run is in the second, no lower.
func TestCountersNonDecreasing(t *testing.T) {
	for _, name := range []string{"disk", "network"} {
		t.Run(name, func(t *testing.T) {
			c := newCheck(t, name, nil)
			r1 := run(t, name, c)
			first := map[string]float64{}
			for _, m := range r1.Metrics {
				first[seriesKey(m)] = m.Value
			}
			time.Sleep(20 * time.Millisecond)
			r2 := run(t, name, c)
			second := map[string]float64{}
			for _, m := range r2.Metrics {
				second[seriesKey(m)] = m.Value
			}
			for k, v := range first {
				if w, ok := second[k]; !ok {
					t.Errorf("%s: gone in second run", k)
				} else if w < v {
					t.Errorf("%s: %v then %v", k, v, w)
				}
			}
			t.Logf("%d series", len(first))
		})
	}
}

func TestNetworkFilter(t *testing.T) {
	r := run(t, "network", newCheck(t, "network", nil))
	ifs := byLabel(r, "interface")
	if _, ok := ifs["lo"]; ok {
		t.Errorf("lo reported by default")
	}
	for name, ms := range ifs {
		if len(ms) != len(declared(t, "network")) {
			t.Errorf("%s: %d metrics, want %d", name, len(ms), len(declared(t, "network")))
		}
	}
	// With lo asked for, lo alone.
	lo := run(t, "network", newCheck(t, "network", &NetworkOptions{IncludeInterfaces: []string{"lo*"}}))
	for name := range byLabel(lo, "interface") {
		if name != "lo" && name != "lo0" {
			t.Errorf("include_interfaces [lo*] reported %s", name)
		}
	}
}

func TestFilesystemFilter(t *testing.T) {
	r := run(t, "filesystem", newCheck(t, "filesystem", nil))
	for _, m := range r.Metrics {
		if fstype := m.Labels[2].Value; slices.Contains(defaultExcludeFstypes, fstype) {
			t.Errorf("%s reported by default: %v", fstype, m.Labels)
		}
	}
	for mount, ms := range byLabel(r, "mount") {
		if len(ms) != len(declared(t, "filesystem")) {
			t.Errorf("%s: %d metrics, want %d", mount, len(ms), len(declared(t, "filesystem")))
		}
		checkUsage(t, mount, ms)
	}
}

func checkUsage(t *testing.T, mount string, ms map[string]float64) {
	t.Helper()
	if ms["total_bytes"] <= 0 {
		t.Errorf("%s: total_bytes = %v", mount, ms["total_bytes"])
	}
	if ms["used_bytes"] > ms["total_bytes"] || ms["free_bytes"] > ms["total_bytes"] {
		t.Errorf("%s: used %v, free %v, total %v", mount, ms["used_bytes"], ms["free_bytes"], ms["total_bytes"])
	}
	if ms["inodes_used"] > ms["inodes_total"] {
		t.Errorf("%s: inodes used %v > total %v", mount, ms["inodes_used"], ms["inodes_total"])
	}
	if u, f := ms["used_bytes"], ms["free_bytes"]; u+f > 0 && math.Abs(ms["used_percent"]-100*u/(u+f)) > 1e-9 {
		t.Errorf("%s: used_percent = %v, want %v", mount, ms["used_percent"], 100*u/(u+f))
	}
}

func TestFilesystemOptionErrors(t *testing.T) {
	tests := []struct {
		check string
		opts  any
		want  []string // substrings of the error
	}{
		{"filesystem", &FilesystemOptions{IncludeMounts: []string{"/data/["}, MountTimeout: Duration{Duration: time.Second}},
			[]string{"include_mounts", `"/data/["`}},
		{"filesystem", &FilesystemOptions{ExcludeMounts: []string{`/x\`}, MountTimeout: Duration{Duration: time.Second}},
			[]string{"exclude_mounts", `"/x\\"`}},
		{"filesystem", &FilesystemOptions{IncludeFstypes: []string{"ext[4"}, MountTimeout: Duration{Duration: time.Second}},
			[]string{"include_fstypes", `"ext[4"`}},
		{"filesystem", &FilesystemOptions{ExcludeFstypes: []string{""}, MountTimeout: Duration{Duration: time.Second}},
			[]string{"exclude_fstypes", "empty pattern"}},
		{"filesystem", &FilesystemOptions{}, []string{"mount_timeout", "positive"}},
		{"filesystem", &FilesystemOptions{MountTimeout: Duration{Duration: -time.Second}}, []string{"mount_timeout"}},
		{"disk", &DiskOptions{IncludeDevices: []string{"sd[a-"}}, []string{"include_devices", `"sd[a-"`}},
		{"disk", &DiskOptions{ExcludeDevices: []string{"loop*", "[]"}}, []string{"exclude_devices", `"[]"`}},
		{"network", &NetworkOptions{IncludeInterfaces: []string{"eth["}}, []string{"include_interfaces", `"eth["`}},
		{"network", &NetworkOptions{ExcludeInterfaces: []string{"lo", ""}}, []string{"exclude_interfaces", "empty"}},
		{"network", &DiskOptions{}, []string{"network", "options of type *check.DiskOptions"}},
		{"cpu", &DiskOptions{}, []string{"cpu", "options of type"}},
		{"memory", 42, []string{"memory", "options of type int"}},
		{"load", &NetworkOptions{}, []string{"load"}},
		{"system", "x", []string{"system"}},
	}
	for _, tt := range tests {
		f, _ := Lookup(tt.check)
		_, err := f.New(tt.opts)
		if err == nil {
			t.Errorf("%s: New(%+v) succeeded", tt.check, tt.opts)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", tt.check, err, w)
			}
		}
	}
}

func TestLabelValue(t *testing.T) {
	long := strings.Repeat("é", 200) // 400 bytes
	tests := []struct{ in, want string }{
		{"/", "/"},
		{"/mnt/my disk", "/mnt/my disk"},
		{"/mnt/a\nb", "/mnt/a?b"},
		{"/mnt/\xff", "/mnt/?"},
		{long, strings.Repeat("é", 126) + "..."},
	}
	for _, tt := range tests {
		got := labelValue(tt.in)
		if got != tt.want {
			t.Errorf("labelValue(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if len(got) > maxLabelValue {
			t.Errorf("labelValue(%q) is %d bytes", tt.in, len(got))
		}
	}
}

func TestSkipMessage(t *testing.T) {
	if got, want := skipMessage([]string{"/a", "permission denied"}), "skipped 1 mount: /a: permission denied"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	var many []string
	for range 50 {
		many = append(many, "/mnt/"+strings.Repeat("ü", 10), "statfs timed out")
	}
	got := skipMessage(many)
	if len(got) > 256 || !strings.HasPrefix(got, "skipped 50 mounts: ") || !strings.HasSuffix(got, "...") {
		t.Errorf("got %q (%d bytes)", got, len(got))
	}
}

func TestNameFilter(t *testing.T) {
	f, err := newNameFilter("inc", []string{"eth*", "lo"}, "exc", []string{"eth1", "lo"})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"eth0": true, "eth1": false, "lo": false, "wlan0": false} {
		if got := f.match(name); got != want {
			t.Errorf("match(%q) = %v, want %v", name, got, want)
		}
	}
	all, _ := newNameFilter("inc", nil, "exc", nil)
	if !all.match("anything") {
		t.Errorf("empty filter rejects a name")
	}
}

// benchmark runs a check as the scheduler would, reusing one Result.
func benchmark(b *testing.B, name string) {
	c := newCheck(b, name, nil)
	ctx := context.Background()
	r := &Result{}
	if err := c.Run(ctx, r); err != nil { // prime: grow buffers, fill caches
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		r.Reset()
		if err := c.Run(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(r.Metrics)), "metrics")
}

func BenchmarkCPU(b *testing.B)        { benchmark(b, "cpu") }
func BenchmarkMemory(b *testing.B)     { benchmark(b, "memory") }
func BenchmarkFilesystem(b *testing.B) { benchmark(b, "filesystem") }
func BenchmarkDisk(b *testing.B)       { benchmark(b, "disk") }
func BenchmarkNetwork(b *testing.B)    { benchmark(b, "network") }
func BenchmarkLoad(b *testing.B)       { benchmark(b, "load") }
func BenchmarkSystem(b *testing.B)     { benchmark(b, "system") }
