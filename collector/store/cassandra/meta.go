package cassandra

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/vigilmon/vigil/collector/store"
)

// MarkPending queues windows of res in slot: one unlogged batch per shard.
func (s *Store) MarkPending(ctx context.Context, res store.Resolution, slot int64, ws []store.Window) error {
	if !res.Valid() {
		return fmt.Errorf("cassandra: mark pending: unknown resolution %d", res)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("cassandra: mark %s pending: %w", res, err)
	}
	if len(ws) == 0 {
		return nil
	}
	sess, err := s.session()
	if err != nil {
		return err
	}
	var shards [queueShards][]gocql.BatchEntry
	for _, w := range ws {
		sh := shardOf(w.Series)
		shards[sh] = append(shards[sh], gocql.BatchEntry{Stmt: s.st.insertQueue, Idempotent: true,
			Args: []any{int(res), slot, sh, w.Start, w.Series[:]}})
	}
	var jobs []job
	for _, entries := range shards {
		for chunk := range slices.Chunk(entries, maxBatch) {
			if len(chunk) == 1 {
				jobs = append(jobs, job{stmt: chunk[0].Stmt, args: chunk[0].Args})
			} else {
				jobs = append(jobs, job{batch: chunk})
			}
		}
	}
	if err := s.health.observe(s.run(ctx, sess, jobs)); err != nil {
		return fmt.Errorf("cassandra: mark %d %s windows pending: %w", len(ws), res, err)
	}
	return nil
}

func shardOf(id store.SeriesID) int { return int(id[0]) % queueShards }

// Pending returns the windows of res queued in slot, reading its shards
// concurrently.
func (s *Store) Pending(ctx context.Context, res store.Resolution, slot int64) ([]store.Window, error) {
	sess, err := s.session()
	if err != nil {
		return nil, err
	}
	var per [queueShards][]store.Window
	err = parallel(ctx, queueShards, func(ctx context.Context, sh int) error {
		iter := sess.Query(s.st.selectQueue, int(res), slot, sh).Consistency(s.cons).IterContext(ctx)
		var (
			start int64
			id    []byte
		)
		for iter.Scan(&start, &id) {
			w := store.Window{Start: start}
			if len(id) != len(w.Series) {
				iter.Close()
				return fmt.Errorf("queue row with an id of %d bytes", len(id))
			}
			copy(w.Series[:], id)
			per[sh] = append(per[sh], w)
		}
		return iter.Close()
	})
	if err = s.health.observe(err); err != nil {
		return nil, fmt.Errorf("cassandra: pending %s windows of slot %d: %w", res, slot, err)
	}
	var out []store.Window
	for _, p := range per {
		out = append(out, p...)
	}
	return out, nil
}

// ClearPending deletes the partitions of one slot.
func (s *Store) ClearPending(ctx context.Context, res store.Resolution, slot int64) error {
	sess, err := s.session()
	if err != nil {
		return err
	}
	jobs := make([]job, queueShards)
	for sh := range jobs {
		jobs[sh] = job{stmt: s.st.deleteQueue, args: []any{int(res), slot, sh}}
	}
	if err := s.health.observe(s.run(ctx, sess, jobs)); err != nil {
		return fmt.Errorf("cassandra: clear %s slot %d: %w", res, slot, err)
	}
	return nil
}

// Cursor returns the value stored under name, or store.ErrNotFound.
func (s *Store) Cursor(ctx context.Context, name string) (int64, error) {
	sess, err := s.session()
	if err != nil {
		return 0, err
	}
	var v int64
	err = sess.Query(s.st.selectCursor, name).Consistency(s.cons).ScanContext(ctx, &v)
	if errors.Is(err, gocql.ErrNotFound) {
		return 0, fmt.Errorf("cassandra: cursor %q: %w", name, store.ErrNotFound)
	}
	if err := s.health.observe(err); err != nil {
		return 0, fmt.Errorf("cassandra: cursor %q: %w", name, err)
	}
	return v, nil
}

// SetCursor stores v under name.
func (s *Store) SetCursor(ctx context.Context, name string, v int64) error {
	return s.put(ctx, "set cursor "+name, s.st.insertCursor, name, v)
}

// UpsertAgent creates or replaces the agent (a.Tenant, a.ID).
func (s *Store) UpsertAgent(ctx context.Context, a store.Agent) error {
	var labels map[string]string
	if len(a.Labels) > 0 {
		labels = a.Labels
	}
	return s.put(ctx, "upsert agent "+a.ID, s.st.insertAgent,
		a.Tenant, a.ID, a.Hostname, a.Version, labels, nullTime(a.LastSeen), a.Connected, a.Collector)
}

// Agents lists the agents of tenant ordered by id.
func (s *Store) Agents(ctx context.Context, tenant string) ([]store.Agent, error) {
	sess, err := s.session()
	if err != nil {
		return nil, err
	}
	iter := sess.Query(s.st.selectAgents, tenant).Consistency(s.cons).IterContext(ctx)
	var out []store.Agent
	for {
		a := store.Agent{Tenant: tenant}
		var seen time.Time
		if !iter.Scan(&a.ID, &a.Hostname, &a.Version, &a.Labels, &seen, &a.Connected, &a.Collector) {
			break
		}
		if !seen.IsZero() {
			a.LastSeen = seen.UTC()
		}
		out = append(out, a)
	}
	if err := s.health.observe(iter.Close()); err != nil {
		return nil, fmt.Errorf("cassandra: agents of %q: %w", tenant, err)
	}
	return out, nil
}

// PutToken creates or replaces the token with t.Hash: first in the
// tenant's list, then in the table authentication reads, so a token that
// authenticates is always listed (and can be revoked).
func (s *Store) PutToken(ctx context.Context, t store.Token) error {
	if err := s.put(ctx, "put token "+t.ID, s.st.insertTenantToken,
		t.Tenant, t.Hash[:], t.ID, string(t.Role), t.Agent, nullTime(t.Created), nullTime(t.Revoked)); err != nil {
		return err
	}
	return s.put(ctx, "put token "+t.ID, s.st.insertToken,
		t.Hash[:], t.ID, t.Tenant, string(t.Role), t.Agent, nullTime(t.Created), nullTime(t.Revoked))
}

// Tokens lists the tokens of tenant ordered by ID.
func (s *Store) Tokens(ctx context.Context, tenant string) ([]store.Token, error) {
	sess, err := s.session()
	if err != nil {
		return nil, err
	}
	iter := sess.Query(s.st.selectTenantTokens, tenant).Consistency(s.cons).IterContext(ctx)
	var out []store.Token
	for {
		t := store.Token{Tenant: tenant}
		var (
			hash             []byte
			role             string
			created, revoked time.Time
		)
		if !iter.Scan(&hash, &t.ID, &role, &t.Agent, &created, &revoked) {
			break
		}
		if len(hash) != len(t.Hash) {
			continue
		}
		copy(t.Hash[:], hash)
		t.Role = store.Role(role)
		if !created.IsZero() {
			t.Created = created.UTC()
		}
		if !revoked.IsZero() {
			t.Revoked = revoked.UTC()
		}
		out = append(out, t)
	}
	if err := s.health.observe(iter.Close()); err != nil {
		return nil, fmt.Errorf("cassandra: tokens of %q: %w", tenant, err)
	}
	slices.SortFunc(out, func(a, b store.Token) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// TokenByHash returns the token with hash h, or an error wrapping
// store.ErrNotFound.
func (s *Store) TokenByHash(ctx context.Context, h store.TokenHash) (store.Token, error) {
	sess, err := s.session()
	if err != nil {
		return store.Token{}, err
	}
	t := store.Token{Hash: h}
	var (
		role             string
		created, revoked time.Time
	)
	err = sess.Query(s.st.selectToken, h[:]).Consistency(s.cons).
		ScanContext(ctx, &t.ID, &t.Tenant, &role, &t.Agent, &created, &revoked)
	if errors.Is(err, gocql.ErrNotFound) {
		return store.Token{}, fmt.Errorf("cassandra: token: %w", store.ErrNotFound)
	}
	if err := s.health.observe(err); err != nil {
		return store.Token{}, fmt.Errorf("cassandra: token: %w", err)
	}
	t.Role = store.Role(role)
	if !created.IsZero() {
		t.Created = created.UTC()
	}
	if !revoked.IsZero() {
		t.Revoked = revoked.UTC()
	}
	return t, nil
}
