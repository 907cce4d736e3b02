package check

import (
	"encoding/binary"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

const procStat = `cpu  7485 3 2601 26774 176 5 34 20 7 1
cpu0 3604 0 1186 13735 16 0 10 9 0 0
cpu1 3880 3 1414 13038 160 5 23 11 7 1
intr 1177215 0 9 0 0 0 0 0 0 0 0
ctxt 2054236
btime 1750000000
processes 7613
procs_running 2
procs_blocked 0
softirq 442126 0 57045 2 10 0 0 2 0 0 384967
`

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    cpuTimes
		n       int
		wantErr bool
	}{
		{"current kernel", procStat,
			cpuTimes{user: 7485, nice: 3, system: 2601, idle: 26774, iowait: 176, irq: 5, softirq: 34, steal: 20}, 2, false},
		{"kernel 2.6.9: four times", "cpu 10 20 30 40\ncpu0 10 20 30 40\n",
			cpuTimes{user: 10, nice: 20, system: 30, idle: 40}, 1, false},
		{"offline CPUs are not listed", "cpu 1 2 3 4 5 6 7 8\ncpu0 1 2 3 4 5 6 7 8\ncpu3 0 0 0 0 0 0 0 0\ncpufreq 1\n",
			cpuTimes{user: 1, nice: 2, system: 3, idle: 4, iowait: 5, irq: 6, softirq: 7, steal: 8}, 2, false},
		{"no trailing newline", "cpu 1 2 3 4", cpuTimes{user: 1, nice: 2, system: 3, idle: 4}, 0, false},
		{"no cpu line", "cpu0 1 2 3 4\nintr 5\n", cpuTimes{}, 0, true},
		{"short cpu line", "cpu 1 2 3\n", cpuTimes{}, 0, true},
		{"bad number", "cpu 1 2 x 4\n", cpuTimes{}, 0, true},
		{"negative", "cpu 1 2 -3 4\n", cpuTimes{}, 0, true},
		{"empty", "", cpuTimes{}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, n, err := parseProcStat([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want || n != tt.n {
				t.Errorf("got %+v, %d CPUs; want %+v, %d", got, n, tt.want, tt.n)
			}
		})
	}
}

func FuzzParseProcStat(f *testing.F) {
	f.Add([]byte(procStat))
	f.Add([]byte("cpu 1 2 3 4\n"))
	f.Add([]byte("cpu99999999999999999999999 1\ncpu 18446744073709551615 1 1 1 1 1 1 1 1 1 1 1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, n, err := parseProcStat(b)
		if err != nil {
			return
		}
		if n < 0 || ts.user < 0 || ts.idle < 0 || ts.steal < 0 {
			t.Fatalf("%+v, %d", ts, n)
		}
		r := &Result{}
		cpuPercents(r, cpuTimes{}, ts)
		conform(t, "cpu", r)
	})
}

const meminfo = `MemTotal:       24684092 kB
MemFree:        24097148 kB
MemAvailable:   24316712 kB
Buffers:           14492 kB
Cached:           378020 kB
SwapCached:            0 kB
SwapTotal:       2097148 kB
SwapFree:        1048576 kB
HugePages_Total:       0
Hugepagesize:       2048 kB
`

func TestParseMeminfo(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    memStats
		wantErr bool
	}{
		{"current kernel", meminfo, memStats{total: 24684092 << 10, available: 24316712 << 10,
			swapTotal: 2097148 << 10, swapFree: 1048576 << 10}, false},
		{"kernel 3.13: no MemAvailable", "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 20 kB\nCached: 300 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n",
			memStats{total: 1000 << 10, available: 420 << 10}, false},
		{"no swap lines", "MemTotal: 1000 kB\nMemAvailable: 500 kB\n", memStats{total: 1000 << 10, available: 500 << 10}, false},
		{"no unit", "MemTotal: 1000\nMemAvailable: 500\n", memStats{total: 1000, available: 500}, false},
		{"no MemTotal", "MemFree: 1 kB\n", memStats{}, true},
		{"bad value", "MemTotal: lots kB\n", memStats{}, true},
		{"overflow", "MemTotal: 18446744073709551615 kB\n", memStats{}, true},
		{"empty", "", memStats{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMeminfo([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func FuzzParseMeminfo(f *testing.F) {
	f.Add([]byte(meminfo))
	f.Add([]byte("MemTotal: 1 kB\nMemFree:\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseMeminfo(b)
		if err != nil {
			return
		}
		r := &Result{}
		// Run's arithmetic on whatever was parsed must stay in range.
		avail := min(m.available, m.total)
		r.Gauge("used_percent", percent(float64(m.total-avail), float64(m.total)))
		conform(t, "memory", r)
	})
}

func TestParseLoadavg(t *testing.T) {
	tests := []struct {
		in      string
		want    [3]float64
		wantErr bool
	}{
		{"0.68 0.43 0.17 2/95 7613\n", [3]float64{0.68, 0.43, 0.17}, false},
		{"12.00 110.50 3 1/1 1", [3]float64{12, 110.5, 3}, false},
		{"0.68 0.43\n", [3]float64{}, true},
		{"0.68 -0.43 0.17\n", [3]float64{}, true},
		{"0,68 0.43 0.17\n", [3]float64{}, true},
		{"", [3]float64{}, true},
	}
	for _, tt := range tests {
		got, err := parseLoadavg([]byte(tt.in))
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseLoadavg(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func FuzzParseLoadavg(f *testing.F) {
	f.Add([]byte("0.68 0.43 0.17 2/95 7613\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := parseLoadavg(b)
		if err != nil {
			return
		}
		for _, v := range l {
			if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("%v", l)
			}
		}
	})
}

func TestParseUptime(t *testing.T) {
	tests := []struct {
		in      string
		want    float64
		wantErr bool
	}{
		{"281.44 440.13\n", 281.44, false},
		{"35101234.10 70000000.00\n", 35101234.1, false},
		{"\n", 0, true},
		{"1e5 1\n", 0, true},
	}
	for _, tt := range tests {
		got, err := parseUptime([]byte(tt.in))
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseUptime(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func FuzzParseUptime(f *testing.F) {
	f.Add([]byte("281.44 440.13\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if v, err := parseUptime(b); err == nil && (v < 0 || math.IsInf(v, 0) || math.IsNaN(v)) {
			t.Fatal(v)
		}
	})
}

func TestParseDecimal(t *testing.T) {
	for _, s := range []string{"0", "0.68", "281.44", "12", "007.50", "123456789012345", "0.000000000000000000001", "99999.99999"} {
		got, ok := parseDecimal([]byte(s))
		want, _ := strconv.ParseFloat(s, 64)
		if !ok || got != want {
			t.Errorf("parseDecimal(%q) = %v, %v; want %v", s, got, ok, want)
		}
	}
	for _, s := range []string{"", ".", ".5", "5.", "1.2.3", "-1", "+1", "1e3", "1234567890123456", "0x10", " 1"} {
		if v, ok := parseDecimal([]byte(s)); ok {
			t.Errorf("parseDecimal(%q) = %v, want failure", s, v)
		}
	}
}

func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"0.68", "281.44", "12", "0.0001", "1."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseDecimal([]byte(s))
		if !ok {
			return
		}
		want, err := strconv.ParseFloat(s, 64)
		if err != nil || got != want {
			t.Fatalf("parseDecimal(%q) = %v, strconv says %v, %v", s, got, want, err)
		}
	})
}

func FuzzParseUint(f *testing.F) {
	for _, s := range []string{"0", "42", "18446744073709551615", "18446744073709551616", "-1", "", "00012"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseUint([]byte(s))
		want, err := strconv.ParseUint(s, 10, 64)
		if ok != (err == nil) || ok && got != want {
			t.Fatalf("parseUint(%q) = %v, %v; strconv says %v, %v", s, got, ok, want, err)
		}
	})
}

const diskstats = `   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
 254       0 vda 31439 5385 1286362 4312 3210 20258 1376240 4380 0 3020 8914 3838 43 127808 213 222 8
 254       1 vda1 31000 5000 1280000 4300 3200 20000 1370000 4370 0 3000 8900 0 0 0 0
 259       0 nvme0n1 100 0 800 10 200 0 1600 20 1 30 30
   8       1 sda1 35 33 210 4
 104       0 cciss/c0d0 5 0 40 1 6 0 48 1 0 2 2
`

// entry is one named line a /proc parser reports, as its callback gets it.
type entry[V comparable] struct {
	name string
	v    V
}

// checkEntries runs parse on in and compares what it reports with want,
// or checks it fails when wantErr.
func checkEntries[V comparable](t *testing.T, parse func([]byte, func([]byte, V)) error, in string, want []entry[V], wantErr bool) {
	t.Helper()
	var got []entry[V]
	err := parse([]byte(in), func(name []byte, v V) {
		got = append(got, entry[V]{string(name), v})
	})
	if (err != nil) != wantErr {
		t.Fatalf("err = %v, want error %v", err, wantErr)
	}
	if !wantErr && !slices.Equal(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestParseDiskstats(t *testing.T) {
	type dev = entry[diskCounters]
	tests := []struct {
		name    string
		in      string
		want    []dev
		wantErr bool
	}{
		{"mixed kernels", diskstats, []dev{
			{"loop0", diskCounters{}},
			{"vda", diskCounters{reads: 31439, readBytes: 1286362 * 512, writes: 3210, writeBytes: 1376240 * 512, ioTimeMs: 3020}},
			{"vda1", diskCounters{reads: 31000, readBytes: 1280000 * 512, writes: 3200, writeBytes: 1370000 * 512, ioTimeMs: 3000}},
			{"nvme0n1", diskCounters{reads: 100, readBytes: 800 * 512, writes: 200, writeBytes: 1600 * 512, ioTimeMs: 30}},
			{"cciss/c0d0", diskCounters{reads: 5, readBytes: 40 * 512, writes: 6, writeBytes: 48 * 512, ioTimeMs: 2}},
		}, false},
		{"blank lines", "\n\n   \n", nil, false},
		{"bad number", " 8 0 sda 1 2 3 4 5 6 7 8 9 x 11\n", nil, true},
		{"no name", " 8\n", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkEntries(t, parseDiskstats, tt.in, tt.want, tt.wantErr) })
	}
}

func FuzzParseDiskstats(f *testing.F) {
	f.Add([]byte(diskstats))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = parseDiskstats(b, func(name []byte, v diskCounters) {
			if len(name) == 0 {
				t.Fatal("empty device name")
			}
		})
	})
}

// TestDiskWhole checks the disk check against /sys/block: it reports the
// whole devices listed there that /proc/diskstats has, and no partition.
func TestDiskWhole(t *testing.T) {
	entries, err := os.ReadDir("/sys/block")
	if err != nil {
		t.Skipf("no /sys/block: %v", err)
	}
	stats, err := os.ReadFile("/proc/diskstats")
	if err != nil {
		t.Fatal(err)
	}
	var inStats []string
	if err := parseDiskstats(stats, func(name []byte, _ diskCounters) { inStats = append(inStats, string(name)) }); err != nil {
		t.Fatal(err)
	}
	f, _ := newNameFilter("", nil, "", newDiskOptions().ExcludeDevices)
	var want []string
	for _, e := range entries {
		name := strings.ReplaceAll(e.Name(), "!", "/")
		if slices.Contains(inStats, name) && f.match(name) {
			want = append(want, name)
		}
	}
	r := run(t, "disk", newCheck(t, "disk", nil))
	got := slices.Sorted(maps.Keys(byLabel(r, "device")))
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("reported %v, want the whole devices %v", got, want)
	}
	t.Logf("devices %v; in /proc/diskstats: %v", got, inStats)

	// include_devices asks for loop devices, which are whole devices.
	r = run(t, "disk", newCheck(t, "disk", &DiskOptions{IncludeDevices: []string{"loop*"}}))
	for name := range byLabel(r, "device") {
		if !strings.HasPrefix(name, "loop") {
			t.Errorf("include_devices [loop*] reported %s", name)
		}
	}
}

// TestDiskPartitionsFromFixture runs the check on a diskstats fixture
// against a fake /sys/block.
func TestDiskPartitionsFromFixture(t *testing.T) {
	dir := t.TempDir()
	sys := filepath.Join(dir, "block")
	for _, d := range []string{"loop0", "vda", "nvme0n1", "cciss!c0d0"} {
		if err := os.MkdirAll(filepath.Join(sys, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	stats := filepath.Join(dir, "diskstats")
	if err := os.WriteFile(stats, []byte(diskstats), 0o644); err != nil {
		t.Fatal(err)
	}
	c := newCheck(t, "disk", nil).(*diskCheck)
	c.rd.f.path, c.rd.sysBlock = stats, sys
	r := run(t, "disk", c)
	got := slices.Sorted(maps.Keys(byLabel(r, "device")))
	if want := []string{"cciss/c0d0", "nvme0n1", "vda"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if v := byLabel(r, "device")["vda"]; v["read_bytes"] != 1286362*512 || v["io_time_ms"] != 3020 {
		t.Errorf("vda: %v", v)
	}
}

const netDev = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    3193      29    0    0    0     0          0         0     3193      29    0    0    0     0       0          0
  eth0: 100401553    7047    1    2    0     0          0         0   567855    5093    3    4    0     0       0          0
eth1:18446744073709551615 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15
`

func TestParseNetDev(t *testing.T) {
	type iface = entry[netCounters]
	tests := []struct {
		name    string
		in      string
		want    []iface
		wantErr bool
	}{
		{"kernel", netDev, []iface{
			{"lo", netCounters{3193, 3193, 29, 29, 0, 0, 0, 0}},
			{"eth0", netCounters{100401553, 567855, 7047, 5093, 1, 3, 2, 4}},
			{"eth1", netCounters{18446744073709551615, 8, 1, 9, 2, 10, 3, 11}},
		}, false},
		{"headers only", netDev[:strings.Index(netDev, "    lo")], nil, false},
		{"short line", "eth0: 1 2 3\n", nil, true},
		{"no name", " : 1 2 3 4 5 6 7 8 9 10 11 12\n", nil, true},
		{"bad number", "eth0: 1 2 3 4 5 6 7 8 9 10 11 -12\n", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkEntries(t, parseNetDev, tt.in, tt.want, tt.wantErr) })
	}
}

func FuzzParseNetDev(f *testing.F) {
	f.Add([]byte(netDev))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = parseNetDev(b, func(name []byte, v netCounters) {
			if len(name) == 0 {
				t.Fatal("empty interface name")
			}
		})
	})
}

const mountinfo = `22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime shared:1 master:2 - ext4 /dev/vda rw,discard
28 27 0:25 / /mnt/my\040disk\011x ro - tmpfs model\134tools ro,size=4k
29 27 0:26 /sub /srv rw - nfs4 srv:/export rw,vers=4.2
`

func TestParseMountinfo(t *testing.T) {
	type mnt struct{ mount, fstype, device string }
	tests := []struct {
		name    string
		in      string
		want    []mnt
		wantErr bool
	}{
		{"kernel", mountinfo, []mnt{
			{"/proc", "proc", "proc"},
			{"/", "ext4", "/dev/vda"},
			{`/mnt/my\040disk\011x`, "tmpfs", `model\134tools`},
			{"/srv", "nfs4", "srv:/export"},
		}, false},
		{"blank line", "\n", nil, false},
		{"no separator", "22 27 0:21 / /proc rw,relatime proc proc rw\n", nil, true},
		{"nothing after separator", "22 27 0:21 / /proc rw -\n", nil, true},
		{"no source", "22 27 0:21 / /proc rw - proc\n", nil, true},
		{"truncated", "22 27 0:21 /\n", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []mnt
			err := parseMountinfo([]byte(tt.in), func(mount, fstype, device []byte, _ uint64) {
				got = append(got, mnt{string(mount), string(fstype), string(device)})
			})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && !slices.Equal(got, tt.want) {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func FuzzParseMountinfo(f *testing.F) {
	f.Add([]byte(mountinfo))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = parseMountinfo(b, func(mount, fstype, device []byte, _ uint64) {
			if len(mount) == 0 || len(fstype) == 0 || len(device) == 0 {
				t.Fatalf("empty field: %q %q %q", mount, fstype, device)
			}
			unescapeMount(mount)
		})
	})
}

func TestUnescapeMount(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/", "/"},
		{`/mnt/my\040disk`, "/mnt/my disk"},
		{`\011\012\134`, "\t\n\\"},
		{`/a\04`, `/a\04`},   // truncated escape
		{`/a\400`, `/a\400`}, // not a byte
		{`/a\08x`, `/a\08x`},
		{`\`, `\`},
	}
	for _, tt := range tests {
		if got := unescapeMount([]byte(tt.in)); got != tt.want {
			t.Errorf("unescapeMount(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzUnescapeMount(f *testing.F) {
	f.Add([]byte(`/mnt/my\040disk\134`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got := unescapeMount(b)
		if len(got) > len(b) {
			t.Fatalf("unescapeMount(%q) = %q grew", b, got)
		}
		if !strings.Contains(string(b), `\`) && got != string(b) {
			t.Fatalf("unescapeMount(%q) = %q changed a name without escapes", b, got)
		}
	})
}

// utmpRecord makes a glibc utmp record.
func utmpRecord(typ uint16, user string) []byte {
	b := make([]byte, utmpSize)
	binary.NativeEndian.PutUint16(b, typ)
	copy(b[utmpUserOff:utmpUserOff+32], user)
	return b
}

func TestCountUtmpUsers(t *testing.T) {
	const bootTime, initProcess, loginProcess, deadProcess = 2, 5, 6, 8
	var utmp []byte
	for _, r := range []struct {
		typ  uint16
		user string
	}{
		{bootTime, "reboot"}, {initProcess, ""}, {loginProcess, "LOGIN"},
		{utmpUserProcess, "alice"}, {utmpUserProcess, "bob"}, {utmpUserProcess, "alice"},
		{deadProcess, ""}, {utmpUserProcess, ""},
	} {
		utmp = append(utmp, utmpRecord(r.typ, r.user)...)
	}
	tests := []struct {
		name string
		in   []byte
		want uint64
	}{
		{"sessions", utmp, 3},
		{"partial record", append(slices.Clone(utmp), utmpRecord(utmpUserProcess, "carol")[:100]...), 3},
		{"empty", nil, 0},
	}
	for _, tt := range tests {
		if got := countUtmpUsers(tt.in); got != tt.want {
			t.Errorf("%s: %d users, want %d", tt.name, got, tt.want)
		}
	}
}

func FuzzCountUtmpUsers(f *testing.F) {
	f.Add(utmpRecord(utmpUserProcess, "alice"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if n := countUtmpUsers(b); n > uint64(len(b)/utmpSize) {
			t.Fatalf("%d users in %d bytes", n, len(b))
		}
	})
}

func TestLogindUserSession(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"# This is private data. Do not parse.\nUID=1000\nUSER=alice\nACTIVE=1\nSTATE=active\nTYPE=tty\nCLASS=user\n", true},
		{"UID=0\nCLASS=user-early\nSTATE=online\n", true},
		{"UID=1000\nCLASS=user\nSTATE=closing\n", false},
		{"UID=120\nCLASS=greeter\nSTATE=online\n", false},
		{"UID=1000\nCLASS=manager\n", false},
		{"CLASS=username\n", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := logindUserSession([]byte(tt.in)); got != tt.want {
			t.Errorf("logindUserSession(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func FuzzLogindUserSession(f *testing.F) {
	f.Add([]byte("UID=1000\nCLASS=user\nSTATE=active\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got := logindUserSession(b)
		if got && !strings.Contains(string(b), "CLASS=user") {
			t.Fatalf("%q counted as a user session", b)
		}
	})
}

// TestSystemUsersFromLogind counts sessions in a fake logind directory:
// regular files only, no .ref FIFOs.
func TestSystemUsersFromLogind(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"1":  "CLASS=user\nSTATE=active\n",
		"2":  "CLASS=user\nSTATE=closing\n",
		"c3": "CLASS=greeter\n",
		"4":  "CLASS=user-early\nSTATE=online\n",
	}
	for name, s := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A FIFO nobody writes to: opening it without O_NONBLOCK would hang.
	if err := mkfifo(filepath.Join(dir, "1.ref")); err != nil {
		t.Fatal(err)
	}
	if err := mkfifo(filepath.Join(dir, "5")); err != nil {
		t.Fatal(err)
	}
	rd := &sysReader{}
	rd.utmp.path = filepath.Join(dir, "no-utmp")
	rd.sessions.path = dir
	n, ok, err := rd.readUsers()
	if err != nil || !ok || n != 2 {
		t.Errorf("readUsers = %d, %v, %v; want 2 sessions", n, ok, err)
	}

	rd.sessions.path = filepath.Join(dir, "no-logind")
	if n, ok, err := rd.readUsers(); err != nil || ok {
		t.Errorf("without utmp or logind: readUsers = %d, %v, %v; want users left out", n, ok, err)
	}

	utmp := append(utmpRecord(utmpUserProcess, "alice"), utmpRecord(utmpUserProcess, "bob")...)
	rd.utmp.path = filepath.Join(dir, "utmp")
	if err := os.WriteFile(rd.utmp.path, utmp, 0o644); err != nil {
		t.Fatal(err)
	}
	if n, ok, err := rd.readUsers(); err != nil || !ok || n != 2 {
		t.Errorf("from utmp: readUsers = %d, %v, %v; want 2", n, ok, err)
	}
}

// dirent makes a getdents64 record.
func dirent(name string, typ uint8) []byte {
	reclen := (19 + len(name) + 1 + 7) &^ 7
	b := make([]byte, reclen)
	binary.NativeEndian.PutUint64(b, 1)
	binary.NativeEndian.PutUint16(b[16:], uint16(reclen))
	b[18] = typ
	copy(b[19:], name)
	return b
}

func TestParseDirents(t *testing.T) {
	var buf []byte
	for _, n := range []string{".", "..", "1", "self", "12345", "a-much-longer-name-than-eight"} {
		buf = append(buf, dirent(n, dtReg)...)
	}
	var got []string
	parseDirents(buf, func(name []byte, typ uint8) { got = append(got, string(name)) })
	if want := []string{"1", "self", "12345", "a-much-longer-name-than-eight"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	// A record whose length runs past the buffer ends the walk.
	bad := slices.Clone(buf[:len(buf)-8])
	got = got[:0]
	parseDirents(bad, func(name []byte, typ uint8) { got = append(got, string(name)) })
	if len(got) != 3 {
		t.Errorf("truncated buffer gave %q", got)
	}
}

func FuzzParseDirents(f *testing.F) {
	f.Add(append(dirent("1", dtReg), dirent("self", 10)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		parseDirents(b, func(name []byte, typ uint8) {
			if len(name) == 0 || slices.Contains(name, 0) {
				t.Fatalf("bad name %q", name)
			}
		})
	})
}

// TestProcDirMatchesOS counts /proc's processes as os.ReadDir does.
func TestProcDirMatchesOS(t *testing.T) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, e := range entries {
		want = append(want, e.Name())
	}
	d := &procDir{path: "/proc", buf: make([]byte, 64)} // small: many getdents calls
	var got []string
	if _, err := d.each(func(name []byte, _ uint8) { got = append(got, string(name)) }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	// Processes come and go between the two listings: compare the rest.
	notPID := func(s []string) []string {
		return slices.DeleteFunc(slices.Clone(s), func(n string) bool { _, ok := parseUint([]byte(n)); return ok })
	}
	if !slices.Equal(notPID(got), notPID(want)) {
		t.Errorf("procDir listed %q\nos.ReadDir %q", notPID(got), notPID(want))
	}
}

func TestProcFileGrows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big")
	want := strings.Repeat("0123456789abcdef", 1000)
	if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
		t.Fatal(err)
	}
	f := &procFile{path: path}
	for range 2 {
		b, err := f.read()
		if err != nil || string(b) != want {
			t.Fatalf("read %d bytes, %v", len(b), err)
		}
	}
	f.path = filepath.Join(t.TempDir(), "missing")
	if _, err := f.read(); !os.IsNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
	if _, ok, err := f.readIfExists(); ok || err != nil {
		t.Errorf("readIfExists of a missing file = %v, %v", ok, err)
	}
}

func mkfifo(path string) error { return syscall.Mkfifo(path, 0o600) }
