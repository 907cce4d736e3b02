package spool

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/vigilmon/vigil/protocol"
)

// record frames a batch as Append does.
func record(t testing.TB, b *protocol.Batch) []byte {
	t.Helper()
	rec, err := proto.MarshalOptions{}.MarshalAppend(make([]byte, recHeaderLen), b)
	if err != nil {
		t.Fatal(err)
	}
	sealRecord(rec)
	return rec
}

func TestDecodeRecord(t *testing.T) {
	good := record(t, &protocol.Batch{Seq: 7, Results: results(1, 2, 3)})
	withLen := func(n uint32) []byte {
		b := bytes.Clone(good)
		binary.LittleEndian.PutUint32(b, n)
		return b
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)-1] ^= 1
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"good", good, nil},
		{"good with more after it", append(bytes.Clone(good), 1, 2, 3), nil},
		{"empty", nil, errTruncated},
		{"short header", good[:5], errTruncated},
		{"short payload", good[:len(good)-1], errTruncated},
		{"zero length", withLen(0), errBadLength},
		{"length over the limit", withLen(maxPayload + 1), errBadLength},
		{"length changed", withLen(uint32(len(good) - recHeaderLen - 1)), errBadCRC},
		{"payload flipped", flipped, errBadCRC},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			payload, n, err := decodeRecord(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if err != nil {
				return
			}
			if n != len(good) || !bytes.Equal(payload, good[recHeaderLen:]) {
				t.Fatalf("n = %d, payload differs", n)
			}
			seq, points, err := batchInfo(payload)
			if err != nil || seq != 7 || points != 6 {
				t.Fatalf("batchInfo = %d, %d, %v; want 7, 6", seq, points, err)
			}
		})
	}
}

func TestBatchInfo(t *testing.T) {
	for _, b := range []*protocol.Batch{
		{Seq: 1},
		{Seq: 1 << 60, Results: results(3, 10, 7)},
		{Seq: 2, Results: []*protocol.CheckResult{{}, nil, {Check: "x"}}},
	} {
		payload, err := proto.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		seq, points, err := batchInfo(payload)
		if err != nil || seq != b.Seq || points != countPoints(b.Results) {
			t.Errorf("batchInfo(%v) = %d, %d, %v", b, seq, points, err)
		}
	}
	for _, bad := range [][]byte{
		{},           // no seq
		{0x08, 0x00}, // seq 0
		{0x08},       // truncated varint
		{0x12, 0x05, 0x01},
		{0x12, 0x02, 0x32, 0x05}, // metric longer than its result
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
	} {
		if _, _, err := batchInfo(bad); !errors.Is(err, errBadBatch) {
			t.Errorf("batchInfo(%x) = %v, want errBadBatch", bad, err)
		}
	}
}

func TestScanRecords(t *testing.T) {
	var stream []byte
	for i := range 3 {
		stream = append(stream, record(t, &protocol.Batch{Seq: uint64(i + 1), Results: results(i, 1, 2)})...)
	}
	good := int64(len(stream))
	var seen []uint64
	end, err := scanRecords(bytes.NewReader(append(stream, 9, 9, 9)), func(off int64, p []byte) error {
		seq, _, err := batchInfo(p)
		seen = append(seen, seq)
		return err
	})
	var re *recordError
	if !errors.As(err, &re) || re.Off != good || end != good || !errors.Is(err, errTruncated) {
		t.Fatalf("end %d, err %v; want a truncated record at %d", end, err, good)
	}
	if len(seen) != 3 {
		t.Fatalf("saw %v", seen)
	}
	// A refusal from fn is reported at that record.
	end, err = scanRecords(bytes.NewReader(stream), func(off int64, p []byte) error {
		if off > 0 {
			return errBadBatch
		}
		return nil
	})
	if !errors.As(err, &re) || re.Off == 0 || end != re.Off || !errors.Is(err, errBadBatch) {
		t.Fatalf("end %d, err %v", end, err)
	}
	// A big record is read in pieces.
	big := record(t, &protocol.Batch{Seq: 9, Results: []*protocol.CheckResult{{Message: string(bytes.Repeat([]byte("x"), 300<<10))}}})
	end, err = scanRecords(bytes.NewReader(big), func(int64, []byte) error { return nil })
	if err != nil || end != int64(len(big)) {
		t.Fatalf("big record: end %d, err %v", end, err)
	}
}

func TestMarks(t *testing.T) {
	var b [markLen]byte
	putMark(b[:], 1<<40+3)
	if seq, ok := decodeMark(b[:]); !ok || seq != 1<<40+3 {
		t.Fatalf("decodeMark = %d, %v", seq, ok)
	}
	b[2] ^= 1
	if _, ok := decodeMark(b[:]); ok {
		t.Fatal("damaged mark accepted")
	}
	if _, ok := decodeMark(b[:5]); ok {
		t.Fatal("short mark accepted")
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(record(f, &protocol.Batch{Seq: 1, Results: results(1, 2, 3)}))
	f.Add(record(f, &protocol.Batch{Seq: 1 << 50}))
	f.Add([]byte{})
	f.Add([]byte{3, 0, 0, 0, 1, 2, 3, 4, 8, 1, 0})
	f.Add(bytes.Repeat([]byte{0xff}, 20))
	f.Fuzz(func(t *testing.T, data []byte) {
		payload, n, err := decodeRecord(data)
		if err == nil {
			if n > len(data) || n != recHeaderLen+len(payload) {
				t.Fatalf("n = %d for %d bytes and a payload of %d", n, len(data), len(payload))
			}
			rec := append(make([]byte, recHeaderLen), payload...)
			sealRecord(rec)
			if !bytes.Equal(rec, data[:n]) {
				t.Fatal("resealing the payload gives other bytes")
			}
		}
		// batchInfo agrees with a full decode wherever that succeeds.
		seq, points, err := batchInfo(data)
		var b protocol.Batch
		if proto.Unmarshal(data, &b) == nil && b.Seq != 0 {
			if err != nil || seq != b.Seq || points != countPoints(b.Results) {
				t.Fatalf("batchInfo = %d, %d, %v; full decode: seq %d, %d points", seq, points, err, b.Seq, countPoints(b.Results))
			}
		}
		// And so does the stream scanner with decodeRecord.
		var offs []int64
		end, _ := scanRecords(bytes.NewReader(data), func(off int64, p []byte) error {
			offs = append(offs, off)
			return nil
		})
		var pos int64
		for _, off := range offs {
			if off != pos {
				t.Fatalf("scan gave a record at %d, decode at %d", off, pos)
			}
			_, n, err := decodeRecord(data[pos:])
			if err != nil {
				t.Fatalf("scan accepted a record at %d that decode refuses: %v", pos, err)
			}
			pos += int64(n)
		}
		if end != pos {
			t.Fatalf("scan ends at %d, records end at %d", end, pos)
		}
		if _, _, err := decodeRecord(data[pos:]); err == nil {
			t.Fatalf("scan stopped at %d before a good record", pos)
		}
	})
}

// FuzzRecover opens a spool whose segment and done log hold arbitrary
// bytes: Open must not fail or panic, and everything Next returns must be a
// batch.
func FuzzRecover(f *testing.F) {
	var stream []byte
	for i := range 3 {
		stream = append(stream, record(f, &protocol.Batch{Seq: uint64(i + 1), Results: results(i, 1, 2)})...)
	}
	var marks []byte
	for _, seq := range []uint64{2, 9} {
		var m [markLen]byte
		putMark(m[:], seq)
		marks = append(marks, m[:]...)
	}
	f.Add(stream, marks, true)
	f.Add(stream[:len(stream)-3], marks[:markLen+4], true)
	f.Add(stream, []byte{}, false)
	f.Add([]byte("garbage"), []byte("more garbage"), true)
	f.Fuzz(func(t *testing.T, seg, acks []byte, header bool) {
		dir := t.TempDir()
		if header {
			seg = append(segMagic[:len(segMagic):len(segMagic)], seg...)
			acks = append(ackMagic[:len(ackMagic):len(ackMagic)], acks...)
		}
		if err := os.WriteFile(filepath.Join(dir, "000000000001.seg"), seg, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "000000000001.ack"), acks, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir, Options{Sync: SyncNever})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer s.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		var last uint64
		for s.Stats().Batches > 0 {
			b, err := s.Next(ctx)
			if err != nil {
				break // the rest were unreadable
			}
			if b.Seq <= last {
				t.Fatalf("seq %d after %d", b.Seq, last)
			}
			last = b.Seq
			if err := s.Ack(b.Seq); err != nil {
				t.Fatal(err)
			}
		}
		seq, _, err := s.Append(results(0, 1, 1))
		if err != nil || seq <= last {
			t.Fatalf("Append after recovery: %d, %v (last seq %d)", seq, err, last)
		}
	})
}
