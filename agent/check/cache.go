package check

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// seriesCache keeps, per name (device, interface), the label slice of its
// series and whether the check reports it, so that a steady-state run
// allocates nothing and matches no globs. Label slices are never modified
// once built: a Result from an earlier run may still hold them.
type seriesCache struct {
	m    map[string]*seriesEntry
	gen  uint32
	seen int
}

type seriesEntry struct {
	labels []Label
	report bool
	gen    uint32
	mount  string // filesystem: the mount point as is, for statfs
}

// begin starts a run.
func (c *seriesCache) begin() {
	if c.m == nil {
		c.m = make(map[string]*seriesEntry)
	}
	c.gen++
	c.seen = 0
}

// lookup returns the entry of name, made by build on first sight.
func (c *seriesCache) lookup(name []byte, build func(name string) *seriesEntry) *seriesEntry {
	e := c.m[string(name)]
	if e == nil {
		s := string(name)
		e = build(s)
		c.m[s] = e
	}
	if e.gen != c.gen {
		e.gen = c.gen
		c.seen++
	}
	return e
}

// end finishes a run, forgetting the names not seen in it (an unplugged
// disk, a deleted container's veth) so the cache does not grow forever.
func (c *seriesCache) end() {
	if len(c.m) == c.seen {
		return
	}
	for k, e := range c.m {
		if e.gen != c.gen {
			delete(c.m, k)
		}
	}
}

// maxLabelValue is the longest label value the data model accepts, in bytes.
const maxLabelValue = 256

// labelValue makes a name from the system (a mount point, a device) a valid
// label value: UTF-8, printable, at most 256 bytes. Names that already are
// (nearly all) are returned as they are.
func labelValue(s string) string {
	ok := len(s) <= maxLabelValue
	for _, r := range s {
		if !ok {
			break
		}
		ok = r != utf8.RuneError && unicode.IsPrint(r)
	}
	if ok {
		return s
	}
	s = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return '?'
		}
		return r
	}, s)
	return truncate(s, maxLabelValue)
}

// truncate cuts valid UTF-8 s to at most n bytes, on a rune boundary,
// ending it with "..." when cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n-3]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "..."
}
