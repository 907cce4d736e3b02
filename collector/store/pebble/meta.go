package pebble

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	pebbledb "github.com/cockroachdb/pebble/v2"

	"github.com/vigilmon/vigil/collector/store"
)

// UpsertAgent creates or replaces the agent (a.Tenant, a.ID).
func (s *Store) UpsertAgent(ctx context.Context, a store.Agent) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pebble: upsert agent %s: %w", a.ID, err)
	}
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	if err := s.write(false, func() error { return s.db.Set(agentKey(a.Tenant, a.ID), appendAgentValue(nil, &a), pebbledb.Sync) }); err != nil {
		return fmt.Errorf("pebble: upsert agent %s: %w", a.ID, err)
	}
	return nil
}

// Agents lists the agents of tenant ordered by id.
func (s *Store) Agents(ctx context.Context, tenant string) (_ []store.Agent, err error) {
	defer func() { s.health.read(err) }()
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	prefix := appendTuple([]byte{nsAgent}, tenant)
	var out []store.Agent
	err = s.scanPrefix(ctx, prefix, func(k, v []byte) error {
		a, err := decodeAgent(k, v)
		out = append(out, a)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pebble: agents of %q: %w", tenant, err)
	}
	return out, nil
}

// PutToken creates or replaces the token with t.Hash.
func (s *Store) PutToken(ctx context.Context, t store.Token) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pebble: put token %s: %w", t.ID, err)
	}
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	if err := s.write(false, func() error { return s.db.Set(tokenKey(t.Hash), appendTokenValue(nil, &t), pebbledb.Sync) }); err != nil {
		return fmt.Errorf("pebble: put token %s: %w", t.ID, err)
	}
	return nil
}

// TokenByHash returns the token with hash h, or an error wrapping
// store.ErrNotFound.
func (s *Store) TokenByHash(ctx context.Context, h store.TokenHash) (_ store.Token, err error) {
	defer func() { s.health.read(err) }()
	if err := s.acquire(); err != nil {
		return store.Token{}, err
	}
	defer s.mu.RUnlock()
	v, closer, err := s.db.Get(tokenKey(h))
	if errors.Is(err, pebbledb.ErrNotFound) {
		return store.Token{}, fmt.Errorf("pebble: token: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Token{}, fmt.Errorf("pebble: token: %w", err)
	}
	defer closer.Close()
	t, err := decodeToken(h, v)
	if err != nil {
		return store.Token{}, fmt.Errorf("pebble: %w", err)
	}
	return t, nil
}

// Tokens lists the tokens of tenant ordered by ID. Tokens are few, so
// this scans the token key space.
func (s *Store) Tokens(ctx context.Context, tenant string) (_ []store.Token, err error) {
	defer func() { s.health.read(err) }()
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	var out []store.Token
	err = s.scanPrefix(ctx, []byte{nsToken}, func(k, v []byte) error {
		if len(k) != 1+len(store.TokenHash{}) {
			return fmt.Errorf("token key: %w", errCorrupt)
		}
		var h store.TokenHash
		copy(h[:], k[1:])
		t, err := decodeToken(h, v)
		if err != nil {
			return err
		}
		if t.Tenant == tenant {
			out = append(out, t)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pebble: tokens of %q: %w", tenant, err)
	}
	slices.SortFunc(out, func(a, b store.Token) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// MarkPending queues windows of res in slot.
func (s *Store) MarkPending(ctx context.Context, res Resolution, slot int64, ws []store.Window) error {
	if !res.Valid() {
		return fmt.Errorf("pebble: mark pending: unknown resolution %d", res)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pebble: mark %s pending: %w", res, err)
	}
	if len(ws) == 0 {
		return nil
	}
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	b := s.db.NewBatchWithSize(len(ws) * (8 + queueKeyLen))
	defer b.Close()
	key := make([]byte, 0, queueKeyLen)
	for _, w := range ws {
		key = appendQueueKey(key[:0], res, slot, w)
		if err := b.Set(key, nil, nil); err != nil {
			return fmt.Errorf("pebble: mark %s pending: %w", res, err)
		}
	}
	if err := s.write(false, func() error { return b.Commit(pebbledb.Sync) }); err != nil {
		return fmt.Errorf("pebble: mark %d %s windows pending: %w", len(ws), res, err)
	}
	return nil
}

// Pending returns the windows of res queued in slot, ordered by window
// start and series.
func (s *Store) Pending(ctx context.Context, res Resolution, slot int64) (_ []store.Window, err error) {
	defer func() { s.health.read(err) }()
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	prefix := queueSlotKey(res, slot)
	var out []store.Window
	err = s.scanPrefix(ctx, prefix, func(k, _ []byte) error {
		_, _, w, err := decodeQueueKey(k)
		out = append(out, w)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pebble: pending %s windows of slot %d: %w", res, slot, err)
	}
	return out, nil
}

// ClearPending empties one slot with a range delete.
func (s *Store) ClearPending(ctx context.Context, res Resolution, slot int64) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pebble: clear %s slot %d: %w", res, slot, err)
	}
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	prefix := queueSlotKey(res, slot)
	if err := s.write(true, func() error { return s.db.DeleteRange(prefix, prefixEnd(prefix), pebbledb.Sync) }); err != nil {
		return fmt.Errorf("pebble: clear %s slot %d: %w", res, slot, err)
	}
	return nil
}

// Cursor returns the value stored under name, or store.ErrNotFound.
func (s *Store) Cursor(ctx context.Context, name string) (_ int64, err error) {
	defer func() { s.health.read(err) }()
	if err := s.acquire(); err != nil {
		return 0, err
	}
	defer s.mu.RUnlock()
	v, closer, err := s.db.Get(cursorKey(name))
	if errors.Is(err, pebbledb.ErrNotFound) {
		return 0, fmt.Errorf("pebble: cursor %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("pebble: cursor %q: %w", name, err)
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, fmt.Errorf("pebble: cursor %q of %d bytes: %w", name, len(v), errCorrupt)
	}
	return getInt64(v), nil
}

// SetCursor stores v under name.
func (s *Store) SetCursor(ctx context.Context, name string, v int64) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pebble: set cursor %q: %w", name, err)
	}
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	b := make([]byte, 8)
	putInt64(b, v)
	if err := s.write(false, func() error { return s.db.Set(cursorKey(name), b, pebbledb.Sync) }); err != nil {
		return fmt.Errorf("pebble: set cursor %q: %w", name, err)
	}
	return nil
}
