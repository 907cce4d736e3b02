package pebble

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	pebbledb "github.com/cockroachdb/pebble/v2"

	"github.com/vigilmon/vigil/collector/store"
)

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

// History returns the results of one check with from <= ts < to in time
// order. It seeks bucket by bucket, skipping days without any history.
func (s *Store) History(ctx context.Context, tenant, agent, check string, from, to int64, limit int) (_ []store.CheckResult, err error) {
	defer func() { s.health.read(err) }()
	if from >= to {
		return nil, nil
	}
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	width := Raw.BucketWidth()
	first, last := bucketOf(from, width), bucketOf(to-1, width)
	it, err := s.db.NewIterWithContext(ctx, &pebbledb.IterOptions{LowerBound: historyBucketKey(first), UpperBound: prefixEnd(historyBucketKey(last))})
	if err != nil {
		return nil, fmt.Errorf("pebble: history of %s/%s: %w", agent, check, err)
	}
	var (
		out     []store.CheckResult
		iterErr error
		key     []byte
	)
	for b := first; b <= last; {
		key = appendCheckTuple(historyBucketKey(b), tenant, agent, check)
		plen := len(key)
		key = append(key, make([]byte, 8)...)
		putInt64(key[plen:], max(from, b*width))
		valid := it.SeekGE(key)
		for ; valid; valid = it.Next() {
			k := it.Key()
			if len(k) != plen+8 || !bytes.Equal(k[:plen], key[:plen]) {
				break
			}
			ts := getInt64(k[plen:])
			if ts >= to {
				break
			}
			v, err := it.ValueAndErr()
			if err != nil {
				iterErr = err
				break
			}
			_, cr, err := decodeHistory(k, v)
			if err != nil {
				it.Close()
				return nil, fmt.Errorf("pebble: history of %s/%s: %w", agent, check, err)
			}
			out = append(out, cr)
			if limit > 0 && len(out) >= limit {
				valid = false
				break
			}
		}
		if iterErr != nil || !valid {
			break
		}
		// Jump to the next bucket that has any history at all.
		next := getInt64(it.Key()[1:9])
		b = max(b+1, next)
	}
	if err := closeIter(it, iterErr); err != nil {
		return nil, fmt.Errorf("pebble: history of %s/%s: %w", agent, check, err)
	}
	return out, nil
}
