// Package importer loads history exported from Prometheus or
// VictoriaMetrics into a store: Prometheus text exposition with timestamps,
// OpenMetrics, and VictoriaMetrics' JSON-lines export. vigil-collector
// import wires it to the configured store.
//
// Imported series keep their names and labels: node_load1{instance="a:9100"}
// answers PromQL as exactly that (promapi maps series of the check
// promapi.ImportCheck so), and dashboards built on the original data work
// unchanged. A series with both an agent and a check label is refused:
// the collector's own series carry both, and the two could share a
// label set.
package importer

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vigilmon/vigil/collector/promapi"
	"github.com/vigilmon/vigil/collector/store"
)

// Options configures Import.
type Options struct {
	Tenant string
	// AgentLabel names the label whose value is the series' agent for
	// Vigil's own API (/v1/series?agent=), default "host"; a label named
	// agent wins, and a series with neither goes to agent "unknown". The
	// label stays one of the series' labels.
	AgentLabel string
	// Batch is the number of points per store write (default 5000) when
	// the store writes points one by one. A store that writes chunks
	// (ChunkWriter) gets each series' points of a day together instead:
	// the import buffers up to Buffer points (default 4 M, 16 bytes each)
	// and writes them in requests of up to BlockBatch points (default
	// 1 M), each synced.
	Batch      int
	Buffer     int
	BlockBatch int
	// Progress receives the progress display and bad-line reports; nil
	// discards them. Terminal says it is a terminal: a progress bar
	// redrawn in place, else a line every LogEvery (default 10 s).
	Progress io.Writer
	Terminal bool
	LogEvery time.Duration
	// MaxBadLines bounds the bad lines reported one by one (default 100);
	// all are counted.
	MaxBadLines int
}

// Summary is what an import did.
type Summary struct {
	Files, Lines, Points, Series, BadLines int64
	// Skipped is the lines that hold no sample: blank, # comments.
	Skipped int64
	Bytes   int64
	Elapsed time.Duration
}

// DefaultMaxBad is the share of bad sample lines past which Check fails.
const DefaultMaxBad = 0.01

// Check says whether the import did its job: some points, and at most
// maxBad (a fraction) of the lines holding samples bad. A file that is
// mostly not exposition with timestamps (a scrape of /metrics, a log)
// should fail the import, not pass as a few points.
func (s Summary) Check(maxBad float64) error {
	if s.Points == 0 {
		return fmt.Errorf("import: nothing imported (%d lines, %d bad): see the bad lines above", s.Lines, s.BadLines)
	}
	data := s.Lines - s.Skipped
	if share := float64(s.BadLines) / float64(max(data, 1)); share > maxBad {
		return fmt.Errorf("import: %d of %d sample lines bad (%.1f%%), more than --max-bad %g; the good ones were imported", s.BadLines, data, 100*share, maxBad)
	}
	return nil
}

func (s Summary) String() string {
	rate := float64(s.Points) / max(s.Elapsed.Seconds(), 1e-9)
	return fmt.Sprintf("imported %d points of %d series from %d files (%s, %d lines, %d bad) in %s: %.0f points/s",
		s.Points, s.Series, s.Files, byteSize(s.Bytes), s.Lines, s.BadLines, s.Elapsed.Round(time.Millisecond), rate)
}

type seriesEntry struct {
	s     store.Series
	batch int64 // the batch that last defined it

	// Buffered points of one raw bucket (ChunkWriter stores).
	bucket int64
	ts     []int64
	vals   []float64
}

// ChunkWriter is a store that writes points straight to disk as
// compressed chunks of (series, day) (the Pebble store): the import hands
// it each series' points of a day together, in large synced requests.
// Points are durable when WriteChunks returns.
type ChunkWriter interface {
	WriteChunks(ctx context.Context, w *store.WriteRequest) error
}

type importer struct {
	opts    Options
	st      store.Writer
	series  map[string]*seriesEntry
	req     store.WriteRequest
	batchNo int64
	sum     Summary
	read    atomic.Int64 // bytes read so far
	points  atomic.Int64
	total   int64 // bytes of all files
	bad     int
	sample  sample
	vm      vmLine

	chunks   ChunkWriter // nil: write points with st.Write
	buffered int         // points held in seriesEntry buffers
}

// Import loads files into st, writing batches of opts.Batch points. Bad
// lines are reported (file:line: error) and skipped; an error of the store
// or of reading a file stops the import.
func Import(ctx context.Context, st store.Writer, opts Options, files []string) (Summary, error) {
	if opts.Tenant == "" {
		return Summary{}, fmt.Errorf("import: no tenant")
	}
	if opts.AgentLabel == "" {
		opts.AgentLabel = "host"
	}
	if opts.Batch <= 0 {
		opts.Batch = 5000
	}
	if opts.Buffer <= 0 {
		opts.Buffer = 4 << 20
	}
	if opts.BlockBatch <= 0 {
		opts.BlockBatch = 1 << 20
	}
	if opts.MaxBadLines == 0 {
		opts.MaxBadLines = 100
	}
	if opts.LogEvery <= 0 {
		opts.LogEvery = 10 * time.Second
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	im := &importer{opts: opts, st: st, series: make(map[string]*seriesEntry)}
	im.req.Tenant = opts.Tenant
	im.chunks, _ = st.(ChunkWriter)
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return Summary{}, fmt.Errorf("import: %w", err)
		}
		im.total += fi.Size()
	}
	start := time.Now()
	stop := im.startProgress(start)
	err := im.run(ctx, files)
	stop()
	im.sum.Elapsed = time.Since(start)
	im.sum.Series = int64(len(im.series))
	im.sum.Bytes = im.read.Load()
	return im.sum, err
}

func (im *importer) run(ctx context.Context, files []string) error {
	for _, f := range files {
		if err := im.file(ctx, f); err != nil {
			return err
		}
		im.sum.Files++
	}
	if im.chunks != nil {
		if err := im.flushBuffers(ctx, true); err != nil {
			return err
		}
	}
	return im.flush(ctx)
}

func (im *importer) file(ctx context.Context, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	vm := strings.HasSuffix(path, ".json") || strings.HasSuffix(path, ".jsonl")
	if b, err := br.Peek(1); err == nil && b[0] == '{' {
		vm = true
	}
	name := filepath.Base(path)
	var lineNo int64
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull { // a long line (a VictoriaMetrics series): collect it
			long := append([]byte(nil), line...)
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if len(line) > 0 {
			lineNo++
			im.sum.Lines++
			im.read.Add(int64(len(line)))
			var perr error
			if vm {
				perr = im.vmLine(ctx, line)
			} else {
				perr = im.textLine(ctx, line)
			}
			if perr != nil {
				if se, ok := perr.(storeError); ok {
					return se.err
				}
				im.badLine(name, lineNo, perr)
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("import: read %s: %w", path, err)
		}
	}
}

// storeError wraps an error of the store, which stops the import.
type storeError struct{ err error }

func (e storeError) Error() string { return e.err.Error() }

func (im *importer) badLine(file string, n int64, err error) {
	im.sum.BadLines++
	if im.bad < im.opts.MaxBadLines {
		progressMu.Lock()
		defer progressMu.Unlock()
		im.bad++
		im.clearLine()
		fmt.Fprintf(im.opts.Progress, "%s:%d: %v\n", file, n, err)
		if im.bad == im.opts.MaxBadLines {
			fmt.Fprintf(im.opts.Progress, "(further bad lines are counted, not shown)\n")
		}
	}
}

func (im *importer) textLine(ctx context.Context, line []byte) error {
	s := &im.sample
	ok, err := parseText(line, s)
	if !ok || err != nil {
		if !ok && err == nil {
			im.sum.Skipped++
		}
		return err
	}
	e := im.series[string(s.key)]
	if e == nil {
		sr, err := im.define(string(s.name), func(yield func(k, v string)) {
			for _, l := range s.labels {
				yield(string(l.key), string(l.value))
			}
		})
		if err != nil {
			return err
		}
		e = &seriesEntry{s: sr, batch: -1}
		im.series[string(s.key)] = e
	}
	return im.add(ctx, e, s.ts, s.value)
}

func (im *importer) vmLine(ctx context.Context, line []byte) error {
	l := &im.vm
	ok, err := parseVM(line, l)
	if !ok || err != nil {
		if !ok && err == nil {
			im.sum.Skipped++
		}
		return err
	}
	key := vmKey(l.Metric)
	e := im.series[key]
	if e == nil {
		sr, err := im.define(l.Metric["__name__"], func(yield func(k, v string)) {
			for k, v := range l.Metric {
				if k != "__name__" {
					yield(k, v)
				}
			}
		})
		if err != nil {
			return err
		}
		e = &seriesEntry{s: sr, batch: -1}
		im.series[key] = e
	}
	for i, v := range l.Values {
		if err := im.add(ctx, e, l.Timestamps[i], float64(v)); err != nil {
			return err
		}
	}
	return nil
}

// vmKey is a canonical form of a VictoriaMetrics metric, to find its
// series again.
func vmKey(m map[string]string) string {
	keys := slices.Sorted(maps.Keys(m))
	var b strings.Builder
	b.WriteByte('{')
	for _, k := range keys {
		b.WriteString(strconv.Quote(k))
		b.WriteByte(':')
		b.WriteString(strconv.Quote(m[k]))
		b.WriteByte(',')
	}
	return b.String()
}

// define maps a metric and its labels to a series of the check
// promapi.ImportCheck that keeps both as they are. Label values that are
// empty are dropped: Prometheus does not tell them from absent ones.
func (im *importer) define(name string, labels func(func(k, v string))) (store.Series, error) {
	sr := store.Series{SeriesKey: store.SeriesKey{Tenant: im.opts.Tenant, Check: promapi.ImportCheck, Metric: name}, Type: store.Gauge}
	if !validName(name) {
		return sr, fmt.Errorf("metric name %q: want a Prometheus name, [a-zA-Z_:][a-zA-Z0-9_:]*", name)
	}
	var bad error
	var agent, named string
	labels(func(k, v string) {
		switch {
		case bad != nil:
			return
		case !validLabelKey(k):
			bad = fmt.Errorf("series %s: label name %q: want a Prometheus label name, [a-zA-Z_][a-zA-Z0-9_]* not starting with __", name, k)
			return
		case v == "":
			return
		case k == promapi.AgentLabel:
			agent = v
		case k == im.opts.AgentLabel:
			named = v
		}
		sr.Labels = append(sr.Labels, store.Label{Key: k, Value: v})
	})
	if bad != nil {
		return sr, bad
	}
	// An agent label decides the agent: the collector narrows PromQL's
	// agent="…" selectors by it.
	sr.Agent = cmp.Or(agent, named, "unknown")
	if len(sr.Labels) > 16 {
		return sr, fmt.Errorf("series %s has %d labels, at most 16 are kept", name, len(sr.Labels))
	}
	store.SortLabels(sr.Labels)
	hasCheck := false
	for i, l := range sr.Labels {
		if i > 0 && l.Key == sr.Labels[i-1].Key {
			return sr, fmt.Errorf("label %q repeated", l.Key)
		}
		hasCheck = hasCheck || l.Key == promapi.CheckLabel
	}
	if agent != "" && hasCheck {
		return sr, fmt.Errorf("series %s has both an agent and a check label, which Vigil's own series carry: it could share their names; rename one of them (relabel) before exporting", name)
	}
	if strings.HasSuffix(name, "_total") {
		sr.Type = store.Counter
	}
	sr.ID = sr.SeriesKey.ID()
	return sr, nil
}

// validName reports whether n is a Prometheus metric name (the classic
// character set, which PromQL selects without quoting).
func validName(n string) bool {
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == ':' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return n != ""
}

// validLabelKey reports whether k is a Prometheus label name not reserved
// by Prometheus (__…).
func validLabelKey(k string) bool {
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return k != "" && !strings.HasPrefix(k, "__")
}

func (im *importer) add(ctx context.Context, e *seriesEntry, ts int64, v float64) error {
	if im.chunks != nil {
		return im.buffer(ctx, e, ts, v)
	}
	if e.batch != im.batchNo {
		e.batch = im.batchNo
		im.req.Series = append(im.req.Series, e.s)
	}
	im.req.Points = append(im.req.Points, store.Point{Series: e.s.ID, TS: ts, Value: v})
	if len(im.req.Points) >= im.opts.Batch {
		return im.flush(ctx)
	}
	return nil
}

// buffer holds a point of a ChunkWriter store in its series' buffer; the
// buffer goes to the request when the point's day differs from the
// buffered ones', and every buffer when they hold opts.Buffer points.
func (im *importer) buffer(ctx context.Context, e *seriesEntry, ts int64, v float64) error {
	b := dayOf(ts)
	if len(e.ts) > 0 && b != e.bucket {
		if err := im.take(ctx, e); err != nil {
			return err
		}
	}
	e.bucket = b
	e.ts = append(e.ts, ts)
	e.vals = append(e.vals, v)
	im.buffered++
	if im.buffered >= im.opts.Buffer {
		return im.flushBuffers(ctx, false)
	}
	return nil
}

func dayOf(ts int64) int64 {
	w := store.Raw.BucketWidth()
	q := ts / w
	if ts%w != 0 && ts < 0 {
		q--
	}
	return q
}

// take moves e's buffered points to the request, writing it when full.
func (im *importer) take(ctx context.Context, e *seriesEntry) error {
	if len(e.ts) == 0 {
		return nil
	}
	if e.batch != im.batchNo {
		e.batch = im.batchNo
		im.req.Series = append(im.req.Series, e.s)
	}
	for i, ts := range e.ts {
		im.req.Points = append(im.req.Points, store.Point{Series: e.s.ID, TS: ts, Value: e.vals[i]})
	}
	im.buffered -= len(e.ts)
	e.ts, e.vals = e.ts[:0], e.vals[:0]
	if len(im.req.Points) >= im.opts.BlockBatch {
		return im.flush(ctx)
	}
	return nil
}

// flushBuffers writes every buffered point; release lets the buffers go.
func (im *importer) flushBuffers(ctx context.Context, release bool) error {
	for _, e := range im.series {
		if err := im.take(ctx, e); err != nil {
			return err
		}
		if release {
			e.ts, e.vals = nil, nil
		}
	}
	return im.flush(ctx)
}

func (im *importer) flush(ctx context.Context) error {
	if len(im.req.Points) == 0 {
		return nil
	}
	write := im.st.Write
	if im.chunks != nil {
		write = im.chunks.WriteChunks
	}
	if err := write(ctx, &im.req); err != nil {
		return storeError{fmt.Errorf("import: write %d points: %w", len(im.req.Points), err)}
	}
	im.sum.Points += int64(len(im.req.Points))
	im.points.Store(im.sum.Points)
	im.req.Series = im.req.Series[:0]
	im.req.Points = im.req.Points[:0]
	im.batchNo++
	return nil
}
