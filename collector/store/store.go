// Package store defines everything the collector keeps — points, check
// results, the series index, agents, tokens, and alarms with their state,
// lease and notification queue (alarm.go) — behind one interface that
// every backend implements and that one contract suite tests. README.md
// lists which file of each backend holds what.
package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"
)

// ErrNotFound is returned when a looked-up record does not exist.
var ErrNotFound = errors.New("not found")

// ErrReadOnly is wrapped by the error of a write the store refuses while it
// serves reads only (its disk is short of free space, or failed a write):
// nothing of the request was stored, and the caller should retry later.
var ErrReadOnly = errors.New("store is read-only")

// Store is what the collector needs from a backend. A nil error from Write
// means the data is durable: the collector acks on it.
//
// Every backend passes the contract suite in package storetest. Consumers
// take the part they use: Writer, Reader, Rollups, Queue, AgentStore,
// TokenStore, AlarmStore (alarm.go).
type Store interface {
	Writer
	Reader
	Rollups
	Queue
	AgentStore
	TokenStore
	AlarmStore

	// DeleteBefore applies retention: data of res older than cutoff (ms)
	// may be dropped; data at or after cutoff is kept. A backend that
	// expires data by itself (Cassandra's TTLs) does nothing.
	DeleteBefore(ctx context.Context, res Resolution, cutoff int64) error

	// Ping reports whether the backend can serve reads and writes.
	Ping(ctx context.Context) error
	Close() error
}

// Writer stores what agents send.
type Writer interface {
	// Write stores series definitions, raw points and check results of one
	// tenant. Rewriting the same (series, timestamp) leaves one point.
	Write(ctx context.Context, w *WriteRequest) error
}

// Reader serves queries: the series index, raw points and check results.
type Reader interface {
	// Series lists the series of a tenant matching f, ordered by key.
	Series(ctx context.Context, f SeriesFilter) ([]Series, error)
	// Points returns the raw points of one series with from <= ts < to in
	// time order, at most limit of them (0: no limit).
	Points(ctx context.Context, id SeriesID, from, to int64, limit int) ([]Point, error)
	// LatestResults returns the result with the highest timestamp of every
	// check of one agent, ordered by check.
	LatestResults(ctx context.Context, tenant, agent string) ([]CheckResult, error)
	// History returns the results of one check of one agent with
	// from <= ts < to in time order, at most limit of them (0: no limit).
	History(ctx context.Context, tenant, agent, check string, from, to int64, limit int) ([]CheckResult, error)
}

// AgentStore keeps the agents' records.
type AgentStore interface {
	UpsertAgent(ctx context.Context, a Agent) error
	Agents(ctx context.Context, tenant string) ([]Agent, error)
}

// TokenStore keeps the credentials (package auth).
type TokenStore interface {
	PutToken(ctx context.Context, t Token) error
	// TokenByHash returns ErrNotFound for an unknown hash.
	TokenByHash(ctx context.Context, hash TokenHash) (Token, error)
	// Tokens lists the tokens of tenant, revoked ones included, ordered by
	// ID. Revoking is a PutToken of the same token with Revoked set.
	Tokens(ctx context.Context, tenant string) ([]Token, error)
}

// Rollups stores the windows of the coarser resolutions (Res5m, Res1h).
type Rollups interface {
	// WriteRollups upserts windows of res: writing the same window again
	// replaces it, so recomputing a window is idempotent.
	WriteRollups(ctx context.Context, res Resolution, rs []Rollup) error
	// ReadRollups returns the windows of one series of res that start in
	// [from, to), in time order, at most limit of them (0: no limit).
	ReadRollups(ctx context.Context, res Resolution, id SeriesID, from, to int64, limit int) ([]Rollup, error)
}

// Queue holds the windows waiting to be (re)computed, in slots of
// QueueSlot by the time they become due, and the rollup job's cursors.
// Marking a window twice is harmless: the job computes it from the finer
// data either way.
type Queue interface {
	// MarkPending queues windows of res in the slot starting at slot (ms,
	// a multiple of QueueSlot).
	MarkPending(ctx context.Context, res Resolution, slot int64, ws []Window) error
	// Pending returns the windows queued in one slot, in no set order,
	// each once.
	Pending(ctx context.Context, res Resolution, slot int64) ([]Window, error)
	// ClearPending empties one slot.
	ClearPending(ctx context.Context, res Resolution, slot int64) error
	// Cursor returns the value stored under name, or ErrNotFound.
	Cursor(ctx context.Context, name string) (int64, error)
	// SetCursor stores v under name.
	SetCursor(ctx context.Context, name string, v int64) error
}

// MetricType is the kind of a series' values.
type MetricType uint8

const (
	Gauge MetricType = iota + 1
	Counter
	String
)

func (t MetricType) String() string {
	switch t {
	case Gauge:
		return "gauge"
	case Counter:
		return "counter"
	case String:
		return "string"
	}
	return "unknown"
}

// Label is one key/value pair of a series.
type Label struct {
	Key, Value string
}

// SeriesKey identifies a series. Labels must be sorted by key (SortLabels).
type SeriesKey struct {
	Tenant, Agent, Check, Metric string
	Labels                       []Label
}

// SeriesID is a 128-bit hash of a series' canonical key.
type SeriesID [16]byte

func (id SeriesID) String() string { return hex.EncodeToString(id[:]) }

// ParseSeriesID parses the hex form of a SeriesID.
func ParseSeriesID(s string) (SeriesID, error) {
	var id SeriesID
	if len(s) != 32 {
		return id, errors.New("series id must be 32 hex digits")
	}
	_, err := hex.Decode(id[:], []byte(s))
	return id, err
}

// SortLabels sorts labels by key, in place.
func SortLabels(ls []Label) {
	sort.Slice(ls, func(i, j int) bool { return ls[i].Key < ls[j].Key })
}

// ID hashes the canonical key: every part length-prefixed, so no choice of
// names can make two different keys hash the same input.
func (k *SeriesKey) ID() SeriesID {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	put := func(s string) {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		h.Write([]byte(s))
	}
	put(k.Tenant)
	put(k.Agent)
	put(k.Check)
	put(k.Metric)
	for _, l := range k.Labels {
		put(l.Key)
		put(l.Value)
	}
	var id SeriesID
	copy(id[:], h.Sum(nil))
	return id
}

// Series is one entry of the series index.
type Series struct {
	ID SeriesID
	SeriesKey
	Type MetricType
	Unit string
}

// CompareKeys orders series keys by tenant, agent, check, metric, then
// labels pair by pair (a key whose labels are a prefix of another's first):
// the order Store.Series returns.
func CompareKeys(a, b *SeriesKey) int {
	if c := cmp.Or(cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.Agent, b.Agent),
		cmp.Compare(a.Check, b.Check), cmp.Compare(a.Metric, b.Metric)); c != 0 {
		return c
	}
	return slices.CompareFunc(a.Labels, b.Labels, func(x, y Label) int {
		return cmp.Or(cmp.Compare(x.Key, y.Key), cmp.Compare(x.Value, y.Value))
	})
}

// Validate checks what every backend requires of a series it stores: a
// known metric type, labels sorted by key without repeats, and an ID that
// is the hash of the key.
func (sr *Series) Validate() error {
	switch sr.Type {
	case Gauge, Counter, String:
	default:
		return fmt.Errorf("series %s: metric type %d", sr.ID, sr.Type)
	}
	for i := 1; i < len(sr.Labels); i++ {
		if sr.Labels[i-1].Key >= sr.Labels[i].Key {
			return fmt.Errorf("series %s: labels not sorted or repeated at %q", sr.ID, sr.Labels[i].Key)
		}
	}
	if id := sr.SeriesKey.ID(); id != sr.ID {
		return fmt.Errorf("series %s: key hashes to %s", sr.ID, id)
	}
	return nil
}

// Point is one value of a series; Str is set for string series.
type Point struct {
	Series SeriesID
	TS     int64 // ms since the Unix epoch
	Value  float64
	Str    string
}

// Status is a check result's status.
type Status uint8

const (
	StatusOK Status = iota + 1
	StatusWarn
	StatusCrit
	StatusUnknown
)

func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusWarn:
		return "warn"
	case StatusCrit:
		return "crit"
	}
	return "unknown"
}

// CheckResult is the status part of one check run; its metrics are Points.
type CheckResult struct {
	Agent, Check string
	TS           int64
	Status       Status
	Message      string
	DurationMS   uint32
}

// WriteRequest is what one batch of one agent becomes. Every point's series
// is defined in Series.
type WriteRequest struct {
	Tenant  string
	Series  []Series
	Points  []Point
	Results []CheckResult
}

// SeriesFilter selects series of one tenant; empty fields match anything,
// and every label in Labels must match exactly.
type SeriesFilter struct {
	Tenant, Agent, Check, Metric string
	Labels                       []Label
}

// Match reports whether s passes the filter.
func (f *SeriesFilter) Match(s *Series) bool {
	if s.Tenant != f.Tenant ||
		f.Agent != "" && s.Agent != f.Agent ||
		f.Check != "" && s.Check != f.Check ||
		f.Metric != "" && s.Metric != f.Metric {
		return false
	}
next:
	for _, want := range f.Labels {
		for _, l := range s.Labels {
			if l.Key == want.Key {
				if l.Value == want.Value {
					continue next
				}
				return false
			}
		}
		return false
	}
	return true
}

// Agent is one monitored server.
type Agent struct {
	Tenant, ID, Hostname, Version string
	Labels                        map[string]string
	LastSeen                      time.Time
	Connected                     bool
	Collector                     string // the collector it is connected to, if any
}

// Role is what a token may do.
type Role string

const (
	RoleAgent  Role = "agent"
	RoleEnroll Role = "enroll"
	RoleRead   Role = "read"
	RoleAdmin  Role = "admin"
)

// TokenHash is the SHA-256 of a token; only hashes are stored.
type TokenHash [32]byte

// Token is a stored credential.
type Token struct {
	Hash    TokenHash
	ID      string // public handle for listing and revoking
	Tenant  string
	Role    Role
	Agent   string // for agent tokens: the agent it may ingest for ("" = any)
	Created time.Time
	Revoked time.Time // zero while valid
}
