package auth

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/collector/store/pebble"
)

// faultyStore is a real store whose TokenByHash fails or stalls on demand.
type faultyStore struct {
	store.Store
	mu      sync.Mutex
	fail    error // returned instead of asking the store
	stall   bool  // wait for the caller's deadline
	lookups int
}

func (f *faultyStore) set(fail error, stall bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail, f.stall = fail, stall
}

func (f *faultyStore) TokenByHash(ctx context.Context, h store.TokenHash) (store.Token, error) {
	f.mu.Lock()
	fail, stall := f.fail, f.stall
	f.lookups++
	f.mu.Unlock()
	if stall {
		<-ctx.Done()
		return store.Token{}, ctx.Err()
	}
	if fail != nil {
		return store.Token{}, fail
	}
	return f.Store.TokenByHash(ctx, h)
}

func (f *faultyStore) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lookups
}

type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) TokenLookup(r string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[r]++
}

func (c *counter) get(r string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[r]
}

func openPebble(t *testing.T) store.Store {
	t.Helper()
	s, err := pebble.Open(t.TempDir(), pebble.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var errDown = errors.New("store down")

// TestTokenCache walks a token through the cache's states with a clock
// under the test's control; each step says what the store does and what
// the check must answer.
func TestTokenCache(t *testing.T) {
	cfg := CacheConfig{TTL: 30 * time.Second, MaxStale: 5 * time.Minute, LookupTimeout: 50 * time.Millisecond, Size: 10}
	if err := cfg.Defaults(); err != nil {
		t.Fatal(err)
	}
	type step struct {
		name    string
		advance time.Duration
		fail    error
		stall   bool
		revoke  bool // revoke through the cache before the check
		want    error
		lookup  bool   // the store is asked
		result  string // counted as
	}
	for _, c := range []struct {
		name  string
		steps []step
	}{
		{"healthy store", []step{
			{name: "first check asks the store", lookup: true, result: "store"},
			{name: "within ttl from memory", advance: 10 * time.Second, result: "cached"},
			{name: "after ttl asks again", advance: 25 * time.Second, lookup: true, result: "store"},
		}},
		{"failing store keeps the agent", []step{
			{name: "confirmed", lookup: true, result: "store"},
			{name: "store fails after ttl", advance: 40 * time.Second, fail: errDown, lookup: true, result: "stale"},
			{name: "not asked again at once", advance: time.Second, fail: errDown, result: "cached"},
			{name: "asked again later", advance: 5 * time.Second, fail: errDown, lookup: true, result: "stale"},
			{name: "past max_stale refused", advance: 5 * time.Minute, fail: errDown, want: errDown, lookup: true, result: "failed"},
		}},
		{"stalled store keeps the agent", []step{
			{name: "confirmed", lookup: true, result: "store"},
			{name: "store stalls past lookup_timeout", advance: 31 * time.Second, stall: true, lookup: true, result: "stale"},
			{name: "store back", advance: 10 * time.Second, lookup: true, result: "store"},
		}},
		{"no entry, store fails", []step{
			{name: "refused with the store's error", fail: errDown, want: errDown, lookup: true, result: "failed"},
		}},
		{"revoked here takes effect at once", []step{
			{name: "confirmed", lookup: true, result: "store"},
			{name: "revoked within ttl", advance: time.Second, revoke: true, want: ErrInvalidToken, lookup: true, result: "store"},
			{name: "and stays refused while the store fails", advance: time.Second, fail: errDown, want: errDown, lookup: true, result: "failed"},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := t.Context()
			fs := &faultyStore{Store: openPebble(t)}
			token, tok, err := Create(ctx, fs, "t1", store.RoleAgent, "a1")
			if err != nil {
				t.Fatal(err)
			}
			var cnt counter
			tc := NewTokenCache(fs, cfg, slog.New(slog.DiscardHandler), &cnt)
			now := time.Unix(1_700_000_000, 0)
			tc.now = func() time.Time { return now }
			for _, s := range c.steps {
				now = now.Add(s.advance)
				if s.revoke {
					if _, err := Revoke(ctx, tc, tok.Tenant, tok.ID, now); err != nil {
						t.Fatalf("%s: revoke: %v", s.name, err)
					}
				}
				fs.set(s.fail, s.stall)
				before, counted := fs.count(), cnt.get(s.result)
				start := time.Now()
				got, err := Authenticate(ctx, tc, token)
				if s.want == nil && (err != nil || got.ID != tok.ID) {
					t.Fatalf("%s: Authenticate = %v, %v; want the token", s.name, got.ID, err)
				}
				if s.want != nil && !errors.Is(err, s.want) {
					t.Fatalf("%s: Authenticate = %v, want %v", s.name, err, s.want)
				}
				if asked := fs.count() > before; asked != s.lookup {
					t.Errorf("%s: store asked: %v, want %v", s.name, asked, s.lookup)
				}
				if cnt.get(s.result) != counted+1 {
					t.Errorf("%s: not counted as %s: %v", s.name, s.result, cnt.n)
				}
				if d := time.Since(start); d > time.Second {
					t.Errorf("%s: took %v; lookup_timeout is %v", s.name, d, cfg.LookupTimeout)
				}
			}
		})
	}
}

// TestTokenCacheRevokeRace: a lookup that read the store before a
// revocation through the cache must not put the token back after it.
func TestTokenCacheRevokeRace(t *testing.T) {
	ctx := t.Context()
	fs := &faultyStore{Store: openPebble(t)}
	token, tok, err := Create(ctx, fs, "t1", store.RoleAgent, "a1")
	if err != nil {
		t.Fatal(err)
	}
	tc := NewTokenCache(fs, DefaultCacheConfig, slog.New(slog.DiscardHandler), nil)
	read, err := fs.Store.TokenByHash(ctx, Hash(token))
	if err != nil {
		t.Fatal(err)
	}
	epoch := tc.epoch
	if _, err := Revoke(ctx, tc, tok.Tenant, tok.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	tc.keep(Hash(token), read, time.Now(), epoch) // the slow lookup ends
	if _, err := Authenticate(ctx, tc, token); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("after revocation: %v, want ErrInvalidToken", err)
	}
}

func TestTokenCacheSize(t *testing.T) {
	ctx := t.Context()
	fs := &faultyStore{Store: openPebble(t)}
	cfg := CacheConfig{Size: 3}
	if err := cfg.Defaults(); err != nil {
		t.Fatal(err)
	}
	tc := NewTokenCache(fs, cfg, nil, nil)
	for range 10 {
		token, _, err := Create(ctx, fs, "t1", store.RoleRead, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Authenticate(ctx, tc, token); err != nil {
			t.Fatal(err)
		}
		if tc.Len() > 3 {
			t.Fatalf("%d tokens cached, size is 3", tc.Len())
		}
	}
	if tc.Len() != 3 {
		t.Errorf("%d tokens cached, want 3", tc.Len())
	}
}

func TestCacheConfigDefaults(t *testing.T) {
	var c CacheConfig
	if err := c.Defaults(); err != nil || c != DefaultCacheConfig {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
	for _, bad := range []struct {
		c    CacheConfig
		want string
	}{
		{CacheConfig{TTL: time.Millisecond}, "token_cache.ttl"},
		{CacheConfig{TTL: time.Hour}, "token_cache.ttl"},
		{CacheConfig{TTL: time.Minute, MaxStale: 30 * time.Second}, "token_cache.max_stale"},
		{CacheConfig{LookupTimeout: time.Millisecond}, "token_cache.lookup_timeout"},
		{CacheConfig{Size: -1}, "token_cache.size"},
	} {
		if err := bad.c.Defaults(); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("Defaults(%+v) = %v, want an error naming %s", bad.c, err, bad.want)
		}
	}
}
