package check

import (
	"bytes"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
)

// schedulerKeys are the settings every check takes, handled by the
// scheduler, not by the check's options.
var schedulerKeys = []string{"enabled", "interval", "timeout"}

// sampleSections splits the sample into its [checks.<name>] tables, with
// the settings uncommented: "# key = value" lines and their continuation
// lines become TOML; "##" lines stay documentation.
func sampleSections(t *testing.T, sample string) map[string]string {
	t.Helper()
	header := regexp.MustCompile(`^\[checks\.([a-z_.]+)\]$`)
	sections := map[string]string{}
	var name string
	var b strings.Builder
	flush := func() {
		if name != "" {
			sections[name] = b.String()
		}
		b.Reset()
	}
	for _, line := range strings.Split(sample, "\n") {
		trimmed := strings.TrimSpace(line)
		if m := header.FindStringSubmatch(trimmed); m != nil {
			flush()
			name = m[1]
			if _, dup := sections[name]; dup {
				t.Errorf("[checks.%s] twice", name)
			}
			continue
		}
		if name == "" || strings.HasPrefix(trimmed, "##") || trimmed == "" {
			continue
		}
		if !strings.HasPrefix(trimmed, "# ") {
			t.Errorf("[checks.%s]: line %q is neither documentation (##) nor a commented-out setting (# )", name, line)
			continue
		}
		b.WriteString(strings.TrimPrefix(trimmed, "# "))
		b.WriteByte('\n')
	}
	flush()
	return sections
}

// TestSampleConfig holds the sample to the code: one table per registered
// check, every option of the check's Options type set in it at its
// default, nothing else, and all of it strict TOML.
func TestSampleConfig(t *testing.T) {
	sample := SampleConfig()
	// As shipped (settings commented out) it is valid TOML.
	var shipped map[string]any
	if err := toml.Unmarshal([]byte(sample), &shipped); err != nil {
		t.Fatalf("sample is not TOML: %v", err)
	}
	sections := sampleSections(t, sample)
	for _, f := range All() {
		t.Run(f.Name, func(t *testing.T) {
			sec, ok := sections[f.Name]
			if !ok {
				t.Fatalf("no [checks.%s] in the sample", f.Name)
			}
			delete(sections, f.Name)

			// Uncommented, the table holds the scheduler's settings...
			var all map[string]any
			if err := toml.Unmarshal([]byte(sec), &all); err != nil {
				t.Fatalf("uncommented [checks.%s] is not TOML: %v\n%s", f.Name, err, sec)
			}
			for _, k := range []string{"interval", "timeout"} {
				if _, ok := all[k]; !ok {
					t.Errorf("no %s in [checks.%s]", k, f.Name)
				}
			}
			var opts strings.Builder
			for _, line := range strings.SplitAfter(sec, "\n") {
				key, _, _ := strings.Cut(line, "=")
				if !slices.Contains(schedulerKeys, strings.TrimSpace(key)) {
					opts.WriteString(line)
				}
			}

			// ...and the check's options, decoded strictly, at their defaults.
			got := f.Options()
			dec := toml.NewDecoder(bytes.NewReader([]byte(opts.String())))
			dec.DisallowUnknownFields()
			if err := dec.Decode(got); err != nil {
				t.Fatalf("[checks.%s] does not decode into %T: %v\n%s", f.Name, got, err, opts.String())
			}
			want := f.Options()
			if !reflect.DeepEqual(normalize(got), normalize(want)) {
				t.Errorf("[checks.%s] shows\n%+v\nthe defaults are\n%+v", f.Name, got, want)
			}
			if _, err := f.New(got); err != nil {
				t.Errorf("New(sample options): %v", err)
			}

			// Every option is shown.
			typ := reflect.TypeOf(want).Elem()
			for i := range typ.NumField() {
				tag, _, _ := strings.Cut(typ.Field(i).Tag.Get("toml"), ",")
				if tag == "" || tag == "-" {
					t.Errorf("%s.%s has no toml tag", typ, typ.Field(i).Name)
					continue
				}
				if slices.Contains(schedulerKeys, tag) {
					t.Errorf("%s.%s: %s is the scheduler's", typ, typ.Field(i).Name, tag)
				}
				if _, ok := all[tag]; !ok {
					t.Errorf("option %s of %s missing from the sample", tag, f.Name)
				}
			}
		})
	}
	for name := range sections {
		t.Errorf("[checks.%s] in the sample, but no such check", name)
	}
}

// normalize makes empty slices nil, so "x = []" equals an unset default.
func normalize(p any) any {
	v := reflect.ValueOf(p).Elem()
	out := reflect.New(v.Type()).Elem()
	out.Set(v)
	for i := range out.NumField() {
		if f := out.Field(i); f.Kind() == reflect.Slice && f.Len() == 0 {
			f.Set(reflect.Zero(f.Type()))
		}
	}
	return out.Interface()
}

// TestSampleConfigCatchesDrift makes sure the test above would fail: an
// unknown option and a wrong default are both caught.
func TestSampleConfigCatchesDrift(t *testing.T) {
	f, _ := Lookup("disk")
	dec := toml.NewDecoder(strings.NewReader("exclude_device = [\"loop*\"]\n"))
	dec.DisallowUnknownFields()
	if err := dec.Decode(f.Options()); err == nil {
		t.Errorf("a misspelt option decoded")
	}
	got := f.Options().(*DiskOptions)
	if err := toml.Unmarshal([]byte(`exclude_devices = ["loop*"]`), got); err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(normalize(got), normalize(f.Options())) {
		t.Errorf("a changed default went unnoticed")
	}
	fs, _ := Lookup("filesystem")
	o := fs.Options().(*FilesystemOptions)
	if err := toml.Unmarshal([]byte(`mount_timeout = "1m30s"`), o); err != nil || o.MountTimeout.String() != "1m30s" {
		t.Errorf("mount_timeout = %v, %v", o.MountTimeout, err)
	}
	if err := toml.Unmarshal([]byte(`mount_timeout = "soon"`), o); err == nil {
		t.Errorf("mount_timeout = \"soon\" decoded")
	}
}

func TestWrap(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want []string
	}{
		{"", 10, []string{""}},
		{"one two three", 20, []string{"one two three"}},
		{"one two three", 7, []string{"one two", "three"}},
		{"a verylongword b", 5, []string{"a", "verylongword", "b"}},
	} {
		if got := wrap(tt.in, tt.n); !slices.Equal(got, tt.want) {
			t.Errorf("wrap(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

// A check whose metrics differ in type shows the type on each line; one
// of a single type says it once, with its labels.
func TestSampleMetrics(t *testing.T) {
	for _, tt := range []struct {
		name string
		f    Factory
		want string
	}{
		{"one type", Factory{Labels: []string{"device"}, Metrics: []MetricDef{
			{Name: "reads", Type: Counter, Doc: "reads done"},
			{Name: "read_bytes", Type: Counter, Doc: "bytes read"},
		}}, "  ## Metrics (counters; labels device):\n  ##   reads       reads done\n  ##   read_bytes  bytes read\n"},
		{"mixed", Factory{Metrics: []MetricDef{
			{Name: "up", Type: Gauge, Doc: "1 when up"},
			{Name: "restarts", Type: Counter, Doc: "restarts since boot, counted by the service manager and never reset"},
		}}, "  ## Metrics:\n  ##   up        gauge: 1 when up\n  ##   restarts  counter: restarts since boot, counted by the service manager\n  ##             and never reset\n"},
	} {
		var b strings.Builder
		writeSampleMetrics(&b, tt.f)
		if b.String() != tt.want {
			t.Errorf("%s:\n%s\nwant:\n%s", tt.name, b.String(), tt.want)
		}
	}
}
