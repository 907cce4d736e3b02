package alarm

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/vigilmon/vigil/protocol"
)

func fsResult(mounts ...string) *protocol.CheckResult {
	cr := &protocol.CheckResult{Check: "filesystem", TimestampMs: t0.UnixMilli(), Status: protocol.Status_STATUS_OK, Message: "3 mounts"}
	for i, mnt := range mounts {
		labels := []*protocol.Label{{Key: "mount", Value: mnt}, {Key: "fstype", Value: "ext4"}, {Key: "device", Value: "/dev/sda" + string(rune('1'+i))}}
		for j, name := range []string{"total_bytes", "used_bytes", "free_bytes", "used_percent", "inodes_total", "inodes_used"} {
			cr.Metrics = append(cr.Metrics, &protocol.Metric{Name: name, Labels: labels, Type: protocol.MetricType_METRIC_TYPE_GAUGE, Value: float64(30*i + j)})
		}
	}
	return cr
}

func TestFromProto(t *testing.T) {
	cr := fsResult("/", "/data")
	cr.Metrics = append(cr.Metrics,
		&protocol.Metric{Name: "mounts", Type: protocol.MetricType_METRIC_TYPE_GAUGE, Value: 2},
		// Labels in another order: the same instance.
		&protocol.Metric{Name: "state", Labels: []*protocol.Label{{Key: "fstype", Value: "ext4"}, {Key: "device", Value: "/dev/sda2"}, {Key: "mount", Value: "/data"}},
			Type: protocol.MetricType_METRIC_TYPE_STRING, StringValue: "rw"})
	var sp Splitter
	got := sp.Split(cr)
	if len(got) != 2 {
		t.Fatalf("%d instances, want 2: %+v", len(got), got)
	}
	if got[0].Key != `{device="/dev/sda1",fstype="ext4",mount="/"}` || got[1].Key != `{device="/dev/sda2",fstype="ext4",mount="/data"}` {
		t.Fatalf("keys %q, %q", got[0].Key, got[1].Key)
	}
	if cr.Metrics[0].Labels[0].Key != "mount" {
		t.Fatal("FromProto reordered the result's labels")
	}
	in := got[1].Result
	if !in.Time.Equal(t0) || in.Status != StatusOK || in.Message != "3 mounts" {
		t.Fatalf("result %+v", in)
	}
	for name, want := range map[string]Value{"used_percent": Num(33), "mounts": Num(2), "mount": Str("/data"), "state": Str("rw")} {
		if v, _ := in.Metric(name); v != want {
			t.Errorf("%s = %+v, want %+v", name, v, want)
		}
	}
	if len(in.Metrics) != 6+1+1+3 {
		t.Errorf("%d metrics, want 11: %+v", len(in.Metrics), in.Metrics)
	}
	if _, ok := got[0].Result.Metric("state"); ok {
		t.Error("the / instance has /data's state")
	}
	c, err := Parse(`if (metric['used_percent'] > 30) { return new AlarmStatus(CRITICAL, '#{mount} #{used_percent}% full') } return OK`)
	if err != nil {
		t.Fatal(err)
	}
	if o := c.Evaluate(&got[0].Result, nil); o.State != StateOK {
		t.Errorf("/: %+v", o)
	}
	if o := c.Evaluate(&got[1].Result, nil); o != (Outcome{StateCritical, "/data 33% full"}) {
		t.Errorf("/data: %+v", o)
	}

	c2, err := Parse(`if (rate(metric['used_bytes']) > 0 || previous(metric['mount']) != metric['mount']) { return WARNING } return OK`)
	if err != nil {
		t.Fatal(err)
	}
	kept := got[1].Result.Keep(c2.PreviousMetrics())
	if len(kept.Metrics) != 2 || !kept.Time.Equal(t0) || kept.Message != "" {
		t.Fatalf("kept %+v", kept)
	}

	// The splitter's memory is reused: check got before splitting again.
	plain := sp.Split(&protocol.CheckResult{Status: protocol.Status_STATUS_UNKNOWN, Message: "timeout",
		Metrics: []*protocol.Metric{{Name: "code", Type: protocol.MetricType_METRIC_TYPE_STRING, StringValue: "404"}}})
	if len(plain) != 1 || plain[0].Key != "" || plain[0].Result.Status != StatusUnknown || len(plain[0].Result.Metrics) != 1 || plain[0].Result.Metrics[0] != (Metric{"code", Str("404")}) {
		t.Fatalf("plain %+v", plain)
	}
	if v, _ := kept.Metric("used_bytes"); v != Num(31) {
		t.Fatalf("kept used_bytes %+v after the splitter reused its memory", v)
	}
	for st, want := range map[protocol.Status]CheckStatus{protocol.Status_STATUS_UNSPECIFIED: StatusUnknown, protocol.Status_STATUS_WARN: StatusWarn, protocol.Status_STATUS_CRIT: StatusCrit} {
		if got := sp.Split(&protocol.CheckResult{Status: st}); got[0].Result.Status != want {
			t.Errorf("%v: %v, want %v", st, got[0].Result.Status, want)
		}
	}
}

func TestSplitterInternsKeys(t *testing.T) {
	var sp Splitter
	first := sp.Split(fsResult("/", "/data"))[1].Key
	again := sp.Split(fsResult("/", "/data"))[1].Key
	if first != again || unsafe.StringData(first) != unsafe.StringData(again) {
		t.Fatalf("keys %q and %q not interned", first, again)
	}
	for i := range maxInterned + 10 {
		sp.Split(fsResult("/m" + strconv.Itoa(i)))
	}
	if len(sp.keys) > maxInterned {
		t.Fatalf("%d interned keys, more than %d", len(sp.keys), maxInterned)
	}
	if got := sp.Split(fsResult("/", "/data"))[1].Key; got != first {
		t.Fatalf("key %q after the cache started over, want %q", got, first)
	}
}

func TestLabelKeySorts(t *testing.T) {
	var set []*protocol.Label
	for _, k := range []string{"m", "c", "x", "a", "q", "b", "z", "d", "y", "e", "p", "f", "o", "g", "n", "h", "l", "i"} {
		set = append(set, &protocol.Label{Key: k, Value: "v"})
	}
	for _, n := range []int{1, 3, 16, 18} {
		keys := make([]string, 0, n)
		for _, l := range set[:n] {
			keys = append(keys, l.Key+`="v"`)
		}
		slices.Sort(keys)
		if got, want := labelKey(set[:n]), "{"+strings.Join(keys, ",")+"}"; got != want {
			t.Errorf("%d labels: %s, want %s", n, got, want)
		}
	}
	if set[0].Key != "m" {
		t.Error("labelKey sorted its argument")
	}
}

func TestLabelKeyQuoting(t *testing.T) {
	for _, v := range []string{"", "/", `a"b`, `c:\d`, "tab\t", "é", "\x7f"} {
		key := labelKey([]*protocol.Label{{Key: "k", Value: v}})
		if want := "{k=" + strconv.Quote(v) + "}"; key != want {
			t.Errorf("%q: %s, want %s", v, key, want)
		}
	}
}

// What evaluation at ingest costs per result, conversion included: a
// filesystem result with 3 mounts (18 points), one alarm.
func BenchmarkSplitAndEvaluate(b *testing.B) {
	cr := fsResult("/", "/data", "/var")
	c, err := Parse(disk)
	if err != nil {
		b.Fatal(err)
	}
	s := Settings{Period: 30e9, Trigger: 1, Recovery: 1}
	ms := make([]Machine, 3)
	var sp Splitter
	b.ReportAllocs()
	for b.Loop() {
		for i, in := range sp.Split(cr) {
			ms[i].Observe(s, in.Result.Time, c.Evaluate(&in.Result, nil), in.Result.Time)
		}
	}
}
