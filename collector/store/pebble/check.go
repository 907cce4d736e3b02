package pebble

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	pebbledb "github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/record"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/vigilmon/vigil/collector/store"
)

// Damage is one damaged file of a store, found by Check.
type Damage struct {
	File string // base name, such as 000123.sst
	Err  error
	// Holds says what the file holds (key spaces, series, time ranges)
	// when the MANIFEST could be read; what is lost if it is removed.
	Holds string
}

// CheckReport is what Check found.
type CheckReport struct {
	Tables, Logs, Manifests int // files verified
	Damaged                 []Damage
	// OpenErr is why the store cannot be opened, if it cannot.
	OpenErr error
}

// Check verifies the store in dir offline (the collector stopped): the
// block checksums of every table, the record checksums of every
// write-ahead log and MANIFEST, and that Pebble can open it. Damaged
// tables are described by the series and time ranges they hold.
func Check(ctx context.Context, dir string) (*CheckReport, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("pebble: check %s: %w", dir, err)
	}
	po := storeOptions(8<<20, slogLogger{l: slog.New(slog.DiscardHandler)})
	po.EnsureDefaults()
	rep := &CheckReport{}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("pebble: check %s: %w", dir, err)
		}
		name := e.Name()
		path := filepath.Join(dir, name)
		var ferr error
		switch {
		case strings.HasSuffix(name, ".sst"):
			rep.Tables++
			ferr = checkTable(ctx, path, po.MakeReaderOptions())
		case strings.HasSuffix(name, ".log"):
			rep.Logs++
			ferr = checkRecords(path, false)
		case strings.HasPrefix(name, "MANIFEST-"):
			rep.Manifests++
			ferr = checkRecords(path, true)
		default:
			continue
		}
		if ferr != nil {
			rep.Damaged = append(rep.Damaged, Damage{File: name, Err: ferr})
		}
	}

	// Open read-only, for the key ranges of the damaged tables, and to
	// see that Pebble opens it.
	po.ReadOnly = true
	var db *pebbledb.DB
	rep.OpenErr = guarded(func() error {
		var err error
		db, err = pebbledb.Open(dir, po)
		return err
	})
	if rep.OpenErr == nil {
		defer db.Close()
	} else {
		db = nil // series are named by id: the index cannot be read
	}
	for i := range rep.Damaged {
		d := &rep.Damaged[i]
		if strings.HasSuffix(d.File, ".sst") {
			d.Holds = describeTable(ctx, db, filepath.Join(dir, d.File), po.MakeReaderOptions())
		}
	}
	return rep, nil
}

// seriesSpan is the time range of one series' points in a table.
type seriesSpan struct {
	res      Resolution
	id       store.SeriesID
	from, to int64
}

// describeTable reads the keys of a damaged table up to its damage and
// says which series and times they are; what lies past the damage is
// unreadable and named by key only.
func describeTable(ctx context.Context, db *pebbledb.DB, path string, o sstable.ReaderOptions) string {
	f, err := vfs.Default.Open(path)
	if err != nil {
		return ""
	}
	readable, err := sstable.NewSimpleReadable(f)
	if err != nil {
		f.Close()
		return ""
	}
	r, err := sstable.NewReader(ctx, readable, o)
	if err != nil {
		readable.Close()
		return "nothing readable: " + err.Error()
	}
	defer r.Close()
	it, err := r.NewPointIter(ctx, sstable.IterOptions{})
	if err != nil {
		return "nothing readable: " + err.Error()
	}
	var (
		spans []seriesSpan
		other = map[string]bool{}
		last  []byte
	)
	for kv := it.First(); kv != nil; kv = it.Next() {
		k := kv.K.UserKey
		last = append(last[:0], k...)
		// Points and head chunks (a point key and a sequence number).
		if len(k) >= pointKeyLen && k[0] == nsPoint {
			if res, id, ts, err := decodePointKey(k[:pointKeyLen]); err == nil {
				if n := len(spans); n > 0 && spans[n-1].id == id && spans[n-1].res == res {
					spans[n-1].from, spans[n-1].to = min(spans[n-1].from, ts), max(spans[n-1].to, ts)
				} else {
					spans = append(spans, seriesSpan{res, id, ts, ts})
				}
				continue
			}
		}
		other[describeKey(nil, k)] = true
	}
	ierr := it.Error()
	it.Close()
	var parts []string
	for _, sp := range spans {
		parts = append(parts, fmt.Sprintf("%s points of %s from %s to %s", sp.res, seriesName(db, sp.id),
			time.UnixMilli(sp.from).UTC().Format(time.RFC3339), time.UnixMilli(sp.to).UTC().Format(time.RFC3339)))
	}
	for k := range other {
		parts = append(parts, k)
	}
	slices.Sort(parts)
	out := strings.Join(parts, "; ")
	if ierr != nil {
		tail := "the whole table"
		if last != nil {
			tail = "keys after " + describeKey(db, last)
		}
		out += "; unreadable: " + tail + " to the end of the table"
	}
	return out
}

// seriesName is tenant/agent/check/metric of id, or id if the index
// cannot be read.
func seriesName(db *pebbledb.DB, id store.SeriesID) string {
	if db == nil {
		return id.String()
	}
	v, closer, err := db.Get(seriesIDKey(id))
	if err != nil {
		return id.String()
	}
	defer closer.Close()
	sr, err := decodeSeriesIDValue(id, v)
	if err != nil {
		return id.String()
	}
	return fmt.Sprintf("%s/%s/%s/%s", sr.Tenant, sr.Agent, sr.Check, sr.Metric)
}

func checkTable(ctx context.Context, path string, o sstable.ReaderOptions) error {
	f, err := vfs.Default.Open(path)
	if err != nil {
		return err
	}
	readable, err := sstable.NewSimpleReadable(f)
	if err != nil {
		f.Close()
		return err
	}
	r, err := sstable.NewReader(ctx, readable, o)
	if err != nil {
		readable.Close()
		return err
	}
	defer r.Close()
	return r.ValidateBlockChecksums()
}

// checkRecords reads every record of a write-ahead log or MANIFEST,
// verifying its checksums. A write-ahead log may end in a torn or
// recycled tail, which Pebble ignores on replay: only a damaged record
// followed by valid ones counts there.
func checkRecords(path string, manifest bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var num uint64
	if !manifest {
		// The number checks recycled log chunks belong to this log; a
		// .log that is not named by one is not Pebble's.
		if _, err := fmt.Sscanf(filepath.Base(path), "%d.log", &num); err != nil {
			return fmt.Errorf("not a write-ahead log: its name is not <number>.log: %w", err)
		}
	}
	var ln = pebbledb.SSTableInfo{}.BackingSSTNum // record.NewReader's file number type
	setNum(&ln, num)
	r := record.NewReader(f, ln)
	for n := 0; ; n++ {
		rr, err := r.Next()
		if err == nil {
			_, err = io.Copy(io.Discard, rr)
		}
		switch {
		case err == nil:
			continue
		case errors.Is(err, io.EOF):
			return nil
		case !manifest && (errors.Is(err, record.ErrZeroedChunk) || errors.Is(err, record.ErrUnexpectedEOF) ||
			errors.Is(err, io.ErrUnexpectedEOF)):
			return nil // a torn tail, as a crash leaves it: Pebble's replay stops there
		}
		return fmt.Errorf("record %d: %w", n, err)
	}
}

func setNum[T ~uint64](p *T, v uint64) { *p = T(v) }

// describeKey names the key space of k, and for a point its series and
// time.
func describeKey(db *pebbledb.DB, k []byte) string {
	if len(k) == 0 {
		return "(empty key)"
	}
	switch k[0] {
	case nsPoint:
		if len(k) < pointKeyLen {
			break
		}
		res, id, ts, err := decodePointKey(k[:pointKeyLen])
		if err != nil {
			break
		}
		return fmt.Sprintf("%s points of %s at %s", res, seriesName(db, id), time.UnixMilli(ts).UTC().Format(time.RFC3339))
	case nsSeries, nsSeriesID:
		return "the series index"
	case nsAgent:
		return "agent records"
	case nsToken:
		return "tokens"
	case nsLatest:
		return "latest check results"
	case nsHistory:
		return "check result history"
	case nsQueue:
		return "the rollup queue"
	case nsWAL:
		return "head write-ahead records"
	case nsMeta:
		return "store metadata"
	case nsAlarm:
		return "alarm records, state and notifications"
	}
	return fmt.Sprintf("key %x", k)
}

// Summary lists the damage, one line per file, sorted.
func (r *CheckReport) Summary() []string {
	var out []string
	for _, d := range r.Damaged {
		line := fmt.Sprintf("damaged: %s: %v", d.File, d.Err)
		if d.Holds != "" {
			line += "; it holds " + d.Holds
		}
		out = append(out, line)
	}
	slices.Sort(out)
	return out
}
