package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/vigilmon/vigil/collector/store"
)

// CacheConfig bounds TokenCache. Errors of Defaults name the settings as
// the collector's config file spells them ([token_cache]).
type CacheConfig struct {
	// TTL is how long a token the store confirmed valid is accepted
	// without asking the store again (default 30s): a revocation made on
	// another collector (or by `vigil-collector token revoke`) takes
	// effect here within TTL.
	TTL time.Duration
	// MaxStale is how long after the store last confirmed a token it is
	// still accepted while the store fails or answers later than
	// LookupTimeout (default 5m): during a store outage, a revocation
	// made elsewhere takes effect here within MaxStale.
	MaxStale time.Duration
	// LookupTimeout bounds one lookup in the store (default 2s); past it,
	// a cached token is accepted as when the store fails.
	LookupTimeout time.Duration
	// Size is the most tokens kept (default 100000, about 20 MB).
	Size int
}

// DefaultCacheConfig is CacheConfig with every default.
var DefaultCacheConfig = CacheConfig{TTL: 30 * time.Second, MaxStale: 5 * time.Minute, LookupTimeout: 2 * time.Second, Size: 100_000}

// Defaults fills in the zero fields of c and validates it.
func (c *CacheConfig) Defaults() error {
	if c.TTL == 0 {
		c.TTL = DefaultCacheConfig.TTL
	}
	if c.MaxStale == 0 {
		c.MaxStale = max(DefaultCacheConfig.MaxStale, c.TTL)
	}
	if c.LookupTimeout == 0 {
		c.LookupTimeout = DefaultCacheConfig.LookupTimeout
	}
	if c.Size == 0 {
		c.Size = DefaultCacheConfig.Size
	}
	switch {
	case c.TTL < time.Second || c.TTL > 10*time.Minute:
		return fmt.Errorf("token_cache.ttl %v: want 1s to 10m (it bounds how long a token revoked on another collector is still accepted here)", c.TTL)
	case c.MaxStale < c.TTL || c.MaxStale > 24*time.Hour:
		return fmt.Errorf("token_cache.max_stale %v: want ttl (%v) to 24h", c.MaxStale, c.TTL)
	case c.LookupTimeout < 10*time.Millisecond || c.LookupTimeout > 30*time.Second:
		return fmt.Errorf("token_cache.lookup_timeout %v: want 10ms to 30s", c.LookupTimeout)
	case c.Size < 1 || c.Size > 10_000_000:
		return fmt.Errorf("token_cache.size %d: want 1 to 10000000", c.Size)
	}
	return nil
}

// LookupCounter counts token lookups by result: "cached" (answered from
// memory within TTL), "store" (the store answered), "stale" (the store
// failed or was slow; a token confirmed within MaxStale was accepted),
// "failed" (the store failed and nothing usable was cached).
type LookupCounter interface {
	TokenLookup(result string)
}

// staleRecheck is how soon a token accepted from the cache while the
// store failed is looked up again: not at every batch, so a stalled store
// does not add LookupTimeout to each one, nor get more requests.
const staleRecheck = 5 * time.Second

// TokenCache is a store.Store whose TokenByHash keeps the tokens the store
// confirmed valid, so that a slow or failing store does not refuse agents
// whose tokens it accepted a moment ago. Only valid tokens are kept: an
// unknown or revoked token always comes from the store. PutToken (a
// revocation, or a new token) through this TokenCache drops the token at
// once, so revoking on this collector takes effect on its next check.
// Every other method is the wrapped store's: the collector hands the
// TokenCache on as the store of the ingest and the API, so it wraps a whole
// store.Store, not a store.TokenStore.
type TokenCache struct {
	store.Store
	cfg   CacheConfig
	log   *slog.Logger
	count LookupCounter
	now   func() time.Time

	mu      sync.Mutex
	entries map[store.TokenHash]cached
	// epoch changes with every PutToken, so a lookup that read the store
	// before a revocation does not put the token back after it.
	epoch   uint64
	failing bool // lookups failing: logged at the change only
}

type cached struct {
	tok       store.Token
	confirmed time.Time // the store last said the token is valid
	next      time.Time // ask the store again from then on
}

// NewTokenCache wraps s. cfg must have passed Defaults; count may be nil.
func NewTokenCache(s store.Store, cfg CacheConfig, log *slog.Logger, count LookupCounter) *TokenCache {
	if log == nil {
		log = slog.Default()
	}
	return &TokenCache{Store: s, cfg: cfg, log: log.With("component", "token_cache"), count: count,
		now: time.Now, entries: make(map[store.TokenHash]cached)}
}

// TokenByHash answers from the cache while the token's TTL runs, then
// from the store within LookupTimeout; when the store fails or is slower,
// a token it confirmed within MaxStale is still accepted.
func (c *TokenCache) TokenByHash(ctx context.Context, h store.TokenHash) (store.Token, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[h]
	epoch := c.epoch
	c.mu.Unlock()
	if ok && now.Before(e.next) {
		c.counted("cached")
		return e.tok, nil
	}
	lctx, cancel := context.WithTimeout(ctx, c.cfg.LookupTimeout)
	t, err := c.Store.TokenByHash(lctx, h)
	cancel()
	switch {
	case err == nil && t.Revoked.IsZero():
		c.keep(h, t, now, epoch)
		c.answered()
		c.counted("store")
		return t, nil
	case err == nil || errors.Is(err, store.ErrNotFound):
		c.drop(h)
		c.answered()
		c.counted("store")
		return t, err
	case ctx.Err() != nil:
		// The caller gave up: that says nothing about the store.
		return store.Token{}, err
	}
	if ok && now.Sub(e.confirmed) < c.cfg.MaxStale {
		c.recheckLater(h, now, epoch)
		c.failed(err, true)
		c.counted("stale")
		return e.tok, nil
	}
	c.failed(err, false)
	c.counted("failed")
	return store.Token{}, err
}

// PutToken stores t and drops it from the cache, before and after the
// write, so no check after PutToken returns answers from the cache.
func (c *TokenCache) PutToken(ctx context.Context, t store.Token) error {
	c.drop(t.Hash)
	err := c.Store.PutToken(ctx, t)
	c.drop(t.Hash)
	return err
}

// Len returns the number of tokens cached.
func (c *TokenCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

func (c *TokenCache) counted(result string) {
	if c.count != nil {
		c.count.TokenLookup(result)
	}
}

func (c *TokenCache) keep(h store.TokenHash, t store.Token, now time.Time, epoch uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if epoch != c.epoch {
		return // a PutToken ran meanwhile: what was read may be revoked
	}
	if _, ok := c.entries[h]; !ok && len(c.entries) >= c.cfg.Size {
		c.evict(now)
	}
	c.entries[h] = cached{tok: t, confirmed: now, next: now.Add(c.cfg.TTL)}
}

// evict makes room for one entry: it drops every entry past MaxStale,
// and if none was, one entry at random (Go's map order), which costs
// that token one store lookup when next used.
func (c *TokenCache) evict(now time.Time) {
	for h, e := range c.entries {
		if now.Sub(e.confirmed) >= c.cfg.MaxStale {
			delete(c.entries, h)
		}
	}
	if len(c.entries) < c.cfg.Size {
		return
	}
	for h := range c.entries {
		delete(c.entries, h)
		return
	}
}

func (c *TokenCache) recheckLater(h store.TokenHash, now time.Time, epoch uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[h]; ok && epoch == c.epoch {
		e.next = now.Add(min(staleRecheck, c.cfg.TTL))
		c.entries[h] = e
	}
}

func (c *TokenCache) drop(h store.TokenHash) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	delete(c.entries, h)
}

// failed logs the first failed lookup of an outage.
func (c *TokenCache) failed(err error, served bool) {
	c.mu.Lock()
	was := c.failing
	c.failing = true
	c.mu.Unlock()
	if !was {
		c.log.Warn("token lookups in the store fail or time out: accepting tokens it confirmed within max_stale",
			"lookup_timeout", c.cfg.LookupTimeout, "max_stale", c.cfg.MaxStale, "served_from_cache", served, "err", err)
	}
}

// answered logs the end of an outage.
func (c *TokenCache) answered() {
	c.mu.Lock()
	was := c.failing
	c.failing = false
	c.mu.Unlock()
	if was {
		c.log.Info("token lookups in the store succeed again")
	}
}
