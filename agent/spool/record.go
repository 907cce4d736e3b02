package spool

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/vigilmon/vigil/protocol"
)

// On-disk format (all integers little-endian).
//
// Segment file NNNNNNNNNNNN.seg:
//
//	header  8 bytes  "VIGILSP" + format version (1)
//	record* 4 bytes  payload length n (1 ≤ n ≤ maxPayload)
//	        4 bytes  CRC-32C (Castagnoli) of the 4 length bytes, then the payload
//	        n bytes  payload: a protocol.Batch in protobuf encoding
//
// Done log NNNNNNNNNNNN.ack, next to the segment it belongs to:
//
//	header  8 bytes  "VIGILAK" + format version (1)
//	mark*   8 bytes  seq of a record that is acked or dropped
//	        4 bytes  CRC-32C of those 8 bytes
//
// Lease file next-seq: 8 bytes seq, 4 bytes CRC-32C of them.
const (
	segHeaderLen = 8
	ackHeaderLen = 8
	recHeaderLen = 8
	markLen      = 12
	leaseLen     = 12

	// maxPayload is the largest batch the spool stores: the largest frame
	// a collector accepts, so a spooled batch can always be sent.
	maxPayload = protocol.DefaultMaxFrameBytes
)

var (
	segMagic = [segHeaderLen]byte{'V', 'I', 'G', 'I', 'L', 'S', 'P', 1}
	ackMagic = [ackHeaderLen]byte{'V', 'I', 'G', 'I', 'L', 'A', 'K', 1}

	castagnoli = crc32.MakeTable(crc32.Castagnoli)
)

// Reasons a record is refused. They never leave the package bare: recovery
// logs them with the file and offset.
var (
	errTruncated = errors.New("record truncated")
	errBadLength = errors.New("bad record length")
	errBadCRC    = errors.New("record checksum mismatch")
	errBadBatch  = errors.New("record is not a valid batch")
)

// recordCRC is the checksum stored in a record header: it covers the length
// bytes too, so a damaged length is caught even if it points at plausible data.
func recordCRC(length []byte, payload []byte) uint32 {
	return crc32.Update(crc32.Checksum(length, castagnoli), castagnoli, payload)
}

// sealRecord fills in the header of rec, whose payload starts at
// rec[recHeaderLen:].
func sealRecord(rec []byte) {
	binary.LittleEndian.PutUint32(rec[0:4], uint32(len(rec)-recHeaderLen))
	binary.LittleEndian.PutUint32(rec[4:8], recordCRC(rec[0:4], rec[recHeaderLen:]))
}

// checkHeader validates the length field of a record header.
func checkHeader(h []byte) (n int, err error) {
	l := binary.LittleEndian.Uint32(h[0:4])
	if l == 0 || l > maxPayload {
		return 0, fmt.Errorf("%w %d (limit %d)", errBadLength, l, maxPayload)
	}
	return int(l), nil
}

// decodeRecord decodes the record at the start of b and returns its payload
// (aliasing b) and the record's total length.
func decodeRecord(b []byte) (payload []byte, n int, err error) {
	if len(b) < recHeaderLen {
		return nil, 0, errTruncated
	}
	l, err := checkHeader(b)
	if err != nil {
		return nil, 0, err
	}
	if len(b)-recHeaderLen < l {
		return nil, 0, errTruncated
	}
	payload = b[recHeaderLen : recHeaderLen+l]
	if binary.LittleEndian.Uint32(b[4:8]) != recordCRC(b[0:4], payload) {
		return nil, 0, errBadCRC
	}
	return payload, recHeaderLen + l, nil
}

// recordError reports a record that cannot be used, at Off bytes into the
// stream given to scanRecords.
type recordError struct {
	Off int64
	Err error
}

func (e *recordError) Error() string { return fmt.Sprintf("offset %d: %v", e.Off, e.Err) }
func (e *recordError) Unwrap() error { return e.Err }

// scanRecords reads records from r until a clean end of stream, calling fn
// with each payload (valid until fn returns) and its offset. It returns the
// offset just past the last good record. A damaged or truncated record, or
// one fn refuses, stops the scan with a *recordError; a read failure stops
// it with that error.
func scanRecords(r io.Reader, fn func(off int64, payload []byte) error) (end int64, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var hdr [recHeaderLen]byte
	var buf []byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if err == io.EOF {
				return end, nil
			}
			if err == io.ErrUnexpectedEOF {
				return end, &recordError{end, errTruncated}
			}
			return end, err
		}
		l, err := checkHeader(hdr[:])
		if err != nil {
			return end, &recordError{end, err}
		}
		// The buffer grows as data really arrives, so a garbage length near
		// the limit costs a large buffer only if that much data follows.
		buf = buf[:0]
		for len(buf) < l {
			if len(buf) == cap(buf) {
				nb := make([]byte, len(buf), min(l, max(2*cap(buf), 64<<10)))
				copy(nb, buf)
				buf = nb
			}
			k, err := io.ReadFull(br, buf[len(buf):min(l, cap(buf))])
			buf = buf[:len(buf)+k]
			if err != nil {
				if err == io.EOF || err == io.ErrUnexpectedEOF {
					return end, &recordError{end, errTruncated}
				}
				return end, err
			}
		}
		if binary.LittleEndian.Uint32(hdr[4:8]) != recordCRC(hdr[0:4], buf) {
			return end, &recordError{end, errBadCRC}
		}
		if err := fn(end, buf); err != nil {
			return end, &recordError{end, err}
		}
		end += int64(recHeaderLen + l)
	}
}

// batchInfo reads a batch's seq and point count (metrics over all results)
// straight from its protobuf encoding, without building the message, and
// checks the encoding's structure on the way.
func batchInfo(b []byte) (seq uint64, points uint32, err error) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, 0, fmt.Errorf("%w: %v", errBadBatch, protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return 0, 0, fmt.Errorf("%w: seq: %v", errBadBatch, protowire.ParseError(n))
			}
			seq, b = v, b[n:]
		case num == 2 && typ == protowire.BytesType:
			r, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return 0, 0, fmt.Errorf("%w: result: %v", errBadBatch, protowire.ParseError(n))
			}
			m, err := countMetrics(r)
			if err != nil {
				return 0, 0, err
			}
			points += m
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return 0, 0, fmt.Errorf("%w: field %d: %v", errBadBatch, num, protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	if seq == 0 {
		return 0, 0, fmt.Errorf("%w: no seq", errBadBatch)
	}
	return seq, points, nil
}

// countMetrics counts the metrics field (6) of an encoded CheckResult.
func countMetrics(b []byte) (uint32, error) {
	var count uint32
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, fmt.Errorf("%w: result: %v", errBadBatch, protowire.ParseError(n))
		}
		b = b[n:]
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return 0, fmt.Errorf("%w: result field %d: %v", errBadBatch, num, protowire.ParseError(n))
		}
		if num == 6 && typ == protowire.BytesType {
			count++
		}
		b = b[n:]
	}
	return count, nil
}

// countPoints is batchInfo's count for results still in memory.
func countPoints(results []*protocol.CheckResult) uint32 {
	var n uint32
	for _, r := range results {
		n += uint32(len(r.GetMetrics()))
	}
	return n
}

// putMark encodes a done mark for seq into b[:markLen].
func putMark(b []byte, seq uint64) {
	binary.LittleEndian.PutUint64(b[0:8], seq)
	binary.LittleEndian.PutUint32(b[8:12], crc32.Checksum(b[0:8], castagnoli))
}

// decodeMark decodes the done mark in b[:markLen].
func decodeMark(b []byte) (seq uint64, ok bool) {
	if len(b) < markLen || binary.LittleEndian.Uint32(b[8:12]) != crc32.Checksum(b[0:8], castagnoli) {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b[0:8]), true
}

// resyncWindow is how much of a damaged region resync reads at a time.
const resyncWindow = 64 << 10

// resync looks for the first offset at or after from, in the size bytes of
// r, where a whole record starts whose length, checksum and batch all
// check, and which accept takes. It returns that offset and accept's
// verdict on it, or found=false when no such record follows from. A record
// is a length, a CRC-32C over it and a protobuf batch that must decode with
// a seq the caller expects: a false start passing all three is about as
// likely as a CRC-32 collision, so intact records after damage are found
// again rather than given up with the rest of the segment.
func resync(r io.ReaderAt, from, size int64, accept func(payload []byte) error) (off int64, found bool, err error) {
	var win, pbuf []byte
	var winOff int64
	for pos := from; pos+recHeaderLen < size; pos++ {
		if pos+recHeaderLen > winOff+int64(len(win)) || pos < winOff {
			n := min(int64(resyncWindow), size-pos)
			if cap(win) < int(n) {
				win = make([]byte, n)
			}
			win = win[:n]
			if k, err := r.ReadAt(win, pos); k < len(win) {
				return 0, false, fmt.Errorf("read at %d: %w", pos, err)
			}
			winOff = pos
		}
		hdr := win[pos-winOff:]
		l, err := checkHeader(hdr)
		if err != nil || pos+recHeaderLen+int64(l) > size {
			continue
		}
		var payload []byte
		if start := pos - winOff + recHeaderLen; start+int64(l) <= int64(len(win)) {
			payload = win[start : start+int64(l)]
		} else {
			if cap(pbuf) < l {
				pbuf = make([]byte, l)
			}
			payload = pbuf[:l]
			if k, err := r.ReadAt(payload, pos+recHeaderLen); k < l {
				return 0, false, fmt.Errorf("read at %d: %w", pos+recHeaderLen, err)
			}
		}
		if binary.LittleEndian.Uint32(hdr[4:8]) != recordCRC(hdr[0:4], payload) {
			continue
		}
		if accept(payload) != nil {
			continue
		}
		return pos, true, nil
	}
	return 0, false, nil
}
