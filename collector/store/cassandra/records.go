package cassandra

import (
	"fmt"
	"math"
	"time"

	"github.com/vigilmon/vigil/collector/store"
)

// writeTime is the write timestamp (µs) of a check result at ts (ms): the
// newest result wins whatever order they arrive in.
func writeTime(ts int64) int64 {
	const maxMS = math.MaxInt64 / 1000
	return min(max(ts, 1), maxMS) * 1000
}

// encodeLabels flattens sorted labels to key, value, key, value, ...;
// never nil, as a clustering column cannot be null.
func encodeLabels(ls []store.Label) []string {
	out := make([]string, 0, 2*len(ls))
	for _, l := range ls {
		out = append(out, l.Key, l.Value)
	}
	return out
}

func decodeLabels(kv []string) ([]store.Label, error) {
	if len(kv)%2 != 0 {
		return nil, fmt.Errorf("labels list of odd length %d", len(kv))
	}
	if len(kv) == 0 {
		return nil, nil
	}
	ls := make([]store.Label, len(kv)/2)
	for i := range ls {
		ls[i] = store.Label{Key: kv[2*i], Value: kv[2*i+1]}
	}
	return ls, nil
}

// nullTime is nil for the zero time, so it is stored as null.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}
