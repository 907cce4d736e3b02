package api

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

const (
	defaultLimit = 1000
	maxLimit     = 10000
)

// page is a request for one page of a list: at most limit items whose
// key sorts after after.
type page struct {
	limit int
	after string
}

// parsePage reads limit= and cursor=. A cursor is the opaque next_cursor
// of the page before.
func parsePage(q url.Values) (page, error) {
	p := page{limit: defaultLimit}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			return p, fmt.Errorf("limit %q: want a whole number from 1 to %d", s, maxLimit)
		}
		p.limit = n
	}
	if s := q.Get("cursor"); s != "" {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) == 0 {
			return p, fmt.Errorf("cursor %q: not a cursor this API returned (pass next_cursor unchanged)", s)
		}
		p.after = string(b)
	}
	return p, nil
}

// paginate sorts items by key and returns those of the page, and the
// cursor of the next page ("" when this is the last).
func paginate[T any](items []T, key func(*T) string, p page) ([]T, string) {
	slices.SortStableFunc(items, func(a, b T) int { return strings.Compare(key(&a), key(&b)) })
	start := 0
	if p.after != "" {
		start, _ = slices.BinarySearchFunc(items, p.after, func(it T, k string) int {
			if key(&it) <= k {
				return -1
			}
			return 1
		})
	}
	items = items[start:]
	if len(items) <= p.limit {
		return items, ""
	}
	items = items[:p.limit]
	return items, base64.RawURLEncoding.EncodeToString([]byte(key(&items[len(items)-1])))
}

// pageReply is the answer {"<name>": items, "next_cursor": "..."}, the
// cursor only when there is a next page.
func pageReply(name string, items any, next string) map[string]any {
	out := map[string]any{name: items}
	if next != "" {
		out["next_cursor"] = next
	}
	return out
}
