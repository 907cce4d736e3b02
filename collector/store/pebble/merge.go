package pebble

import (
	"io"

	pebbledb "github.com/cockroachdb/pebble/v2"
)

// latestMerger resolves the merge operands written under a latest-result key
// (nsLatest): the operand with the highest timestamp wins, and of equal
// timestamps the newer write. Writers therefore never read before writing,
// concurrent writers need no lock, and a retried old batch arriving after a
// newer one does not replace the newer result. An operand too short to hold
// a timestamp loses to any other.
//
// "Highest (ts, write order)" is associative, as Pebble requires: the result
// does not depend on how compactions group the operands.
var latestMerger = &pebbledb.Merger{
	Name: "vigil.latest-result.v1",
	Merge: func(_, value []byte) (pebbledb.ValueMerger, error) {
		m := &latestValueMerger{}
		m.take(value)
		return m, nil
	},
}

type latestValueMerger struct {
	buf   []byte
	ts    int64
	valid bool
}

func (m *latestValueMerger) take(v []byte) {
	m.buf = append(m.buf[:0], v...)
	m.ts, m.valid = latestTS(v)
}

// better reports whether v beats the current value; newer says whether v was
// written after it (ties go to the newer write).
func (m *latestValueMerger) better(v []byte, newer bool) bool {
	ts, ok := latestTS(v)
	switch {
	case !ok:
		return !m.valid && newer
	case !m.valid:
		return true
	case newer:
		return ts >= m.ts
	default:
		return ts > m.ts
	}
}

func (m *latestValueMerger) MergeNewer(v []byte) error {
	if m.better(v, true) {
		m.take(v)
	}
	return nil
}

func (m *latestValueMerger) MergeOlder(v []byte) error {
	if m.better(v, false) {
		m.take(v)
	}
	return nil
}

func (m *latestValueMerger) Finish(bool) ([]byte, io.Closer, error) {
	return m.buf, nil, nil
}
