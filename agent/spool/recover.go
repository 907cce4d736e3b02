package spool

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// leaseStep is how far ahead of the seqs in use the lease in next-seq
// reaches. After a crash seqs resume at the lease, so they never repeat
// even if the batches that used them are gone; the gap is at most this.
const leaseStep = 1 << 16

const leaseName = "next-seq"

// recover rebuilds the index from the files an earlier run left.
func (s *Spool) recover() error {
	des, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("spool: read directory: %w", err)
	}
	var segNums []uint64
	acks := map[uint64]bool{}
	for _, de := range des {
		name := de.Name()
		if name == leaseName+".tmp" {
			os.Remove(filepath.Join(s.dir, name))
			continue
		}
		ext := filepath.Ext(name)
		num, err := strconv.ParseUint(strings.TrimSuffix(name, ext), 10, 64)
		if err != nil || !de.Type().IsRegular() {
			continue
		}
		switch ext {
		case ".seg":
			segNums = append(segNums, num)
		case ".ack":
			acks[num] = true
		default:
			continue
		}
		s.nextSegNum = max(s.nextSegNum, num+1)
	}
	slices.Sort(segNums)

	var lastSeq uint64 // highest seq in a segment or done log
	for i, num := range segNums {
		seg, keep, err := s.loadSegment(num, i == len(segNums)-1, &lastSeq)
		if err != nil {
			return err
		}
		delete(acks, num)
		if !keep || seg == nil {
			continue
		}
		s.segs = append(s.segs, seg)
		s.bytes += seg.size + seg.ackSize
		s.batches += seg.live
	}
	for num := range acks {
		// The segment was deleted but a crash kept its done log.
		if err := os.Remove(s.ackPath(num)); err != nil {
			s.log.Warn("cannot delete an orphaned done log", "err", err)
		}
	}

	lease, err := s.readLease()
	if err != nil {
		return err
	}
	s.nextSeq = max(lastSeq+1, lease, 1)
	s.leaseEnd = s.nextSeq + leaseStep
	if err := s.writeLease(s.leaseEnd); err != nil {
		return err
	}

	// Segments with nothing left to send go now.
	for _, seg := range slices.Clone(s.segs) {
		if seg.live == 0 {
			s.removeSegment(seg)
		}
	}
	if s.dirDirty {
		if err := s.syncDir(); err != nil {
			return err
		}
		s.dirDirty = false
	}
	s.hint = s.nextSeq
	if len(s.segs) > 0 {
		s.hint = s.segs[0].entries[0].seq
	}
	return nil
}

// loadSegment indexes segment num and applies its done log. It returns
// keep=false for a file that is not a segment this code can read (left
// alone), and a nil segment for one that holds nothing (deleted).
func (s *Spool) loadSegment(num uint64, last bool, lastSeq *uint64) (seg *segment, keep bool, err error) {
	path := s.segPath(num)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, false, fmt.Errorf("spool: open segment %d: %w", num, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, false, fmt.Errorf("spool: open segment %d: %w", num, err)
	}
	var hdr [segHeaderLen]byte
	if fi.Size() < segHeaderLen {
		// A crash while the segment was being created.
		if fi.Size() > 0 {
			s.log.Warn("segment shorter than its header; deleting it", "file", path, "bytes", fi.Size())
		}
		f.Close()
		if err := os.Remove(path); err != nil {
			return nil, false, fmt.Errorf("spool: delete segment %d: %w", num, err)
		}
		os.Remove(s.ackPath(num))
		return nil, true, nil
	}
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		return nil, false, fmt.Errorf("spool: read segment %d: %w", num, err)
	}
	if hdr != segMagic {
		s.st.Corrupt++
		s.log.Error("not a segment of this spool format; leaving it alone", "file", path)
		return nil, false, nil
	}

	seg = &segment{num: num, size: fi.Size()}
	prev := *lastSeq
	// A batch is taken only if it decodes and its seq follows the one
	// before: seqs rise by one per Append within a segment.
	check := func(payload []byte) (uint64, uint32, error) {
		seq, points, err := batchInfo(payload)
		if err != nil {
			return 0, 0, err
		}
		if seq <= prev {
			return 0, 0, fmt.Errorf("%w: seq %d does not follow %d", errBadBatch, seq, prev)
		}
		return seq, points, nil
	}
	size := fi.Size()
	off := int64(segHeaderLen)
	for off < size {
		end, err := scanRecords(io.NewSectionReader(f, off, size-off), func(roff int64, payload []byte) error {
			seq, points, err := check(payload)
			if err != nil {
				return err
			}
			prev = seq
			seg.entries = append(seg.entries, entry{
				seq:    seq,
				off:    uint32(off + roff),
				size:   uint32(len(payload)),
				points: points,
			})
			return nil
		})
		end += off
		if err == nil {
			break
		}
		s.st.Corrupt++
		var rerr *recordError
		if !errors.As(err, &rerr) {
			// The disk failed to read: nothing after this point is known.
			s.st.SkippedRecords++
			s.st.SkippedBytes += uint64(size - end)
			s.log.Warn("cannot read the rest of a segment; skipping it",
				"file", path, "offset", end, "bytes_skipped", size-end, "err", err)
			break
		}
		// Damage costs the damaged records only: resume at the next
		// offset where a whole record checks out.
		var nextSeq uint64
		next, found, err := resync(f, end+1, size, func(payload []byte) error {
			seq, _, err := check(payload)
			nextSeq = seq
			return err
		})
		if err != nil {
			s.st.SkippedRecords++
			s.st.SkippedBytes += uint64(size - end)
			s.log.Warn("cannot read the rest of a segment; skipping it",
				"file", path, "offset", end, "bytes_skipped", size-end, "err", err)
			break
		}
		if found {
			lost := nextSeq - prev - 1
			if prev == *lastSeq && len(seg.entries) == 0 {
				// No seq before the damage in this segment to count from.
				lost = 1
			}
			s.st.SkippedRecords += lost
			s.st.SkippedBytes += uint64(next - end)
			s.log.Warn("damaged records inside a segment; skipped them and resumed at the next intact record",
				"file", path, "offset", end, "bytes_skipped", next-end, "records_skipped", lost,
				"resumed_at", next, "reason", rerr.Err)
			off = next
			continue
		}
		// Nothing intact follows: a torn or damaged tail, most often the
		// one record being written when the process or machine died.
		s.st.SkippedRecords++
		s.st.SkippedBytes += uint64(size - end)
		if !last {
			s.log.Warn("damaged tail in a segment; skipping it",
				"file", path, "offset", end, "bytes_skipped", size-end, "reason", rerr.Err)
			break
		}
		s.log.Warn("torn or corrupt tail in the newest segment; cutting it off",
			"file", path, "offset", end, "bytes_cut", size-end, "reason", rerr.Err)
		if err := f.Truncate(end); err != nil {
			return nil, false, fmt.Errorf("spool: truncate segment %d: %w", num, err)
		}
		if err := f.Sync(); err != nil {
			return nil, false, fmt.Errorf("spool: sync segment %d: %w", num, err)
		}
		seg.size = end
		break
	}
	*lastSeq = prev
	seg.live = len(seg.entries)
	if err := s.loadAcks(seg, lastSeq); err != nil {
		return nil, false, err
	}
	return seg, true, nil
}

// loadAcks applies seg's done log, cutting off a torn tail.
func (s *Spool) loadAcks(seg *segment, lastSeq *uint64) error {
	path := s.ackPath(seg.num)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("spool: open done log %d: %w", seg.num, err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var hdr [ackHeaderLen]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil || hdr != ackMagic {
		// A crash while it was created, or garbage: the acks it held are
		// lost, so those batches are sent again.
		s.log.Warn("done log without a valid header; ignoring it", "file", path)
		f.Close()
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("spool: delete done log %d: %w", seg.num, err)
		}
		return nil
	}
	end := int64(ackHeaderLen)
	var m [markLen]byte
	for {
		n, err := io.ReadFull(br, m[:])
		if err == io.EOF {
			break
		}
		seq, ok := decodeMark(m[:])
		if err != nil || !ok {
			if err != nil && err != io.ErrUnexpectedEOF {
				return fmt.Errorf("spool: read done log %d: %w", seg.num, err)
			}
			s.st.Corrupt++
			s.log.Warn("torn or corrupt mark in a done log; cutting it off", "file", path, "offset", end, "bytes", n)
			if err := f.Truncate(end); err != nil {
				return fmt.Errorf("spool: truncate done log %d: %w", seg.num, err)
			}
			if err := f.Sync(); err != nil {
				return fmt.Errorf("spool: sync done log %d: %w", seg.num, err)
			}
			break
		}
		end += markLen
		*lastSeq = max(*lastSeq, seq)
		i, found := slices.BinarySearchFunc(seg.entries, seq, func(e entry, seq uint64) int {
			return cmpSeq(e.seq, seq)
		})
		if found && seg.entries[i].state != stateDone {
			seg.entries[i].state = stateDone
			seg.live--
		}
	}
	seg.ackSize = end
	return nil
}

func cmpSeq(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// readLease returns the seq the lease file says seqs resume at, or 0.
func (s *Spool) readLease() (uint64, error) {
	path := filepath.Join(s.dir, leaseName)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("spool: read %s: %w", leaseName, err)
	}
	if len(b) != leaseLen || binary.LittleEndian.Uint32(b[8:]) != crc32.Checksum(b[:8], castagnoli) {
		s.log.Warn("seq lease file is damaged; seqs resume after the highest one found", "file", path)
		return 0, nil
	}
	return binary.LittleEndian.Uint64(b[:8]), nil
}

// writeLease records that seqs resume at next after a restart. It is
// written rarely (once per leaseStep appends, at Open and at Close) and
// always synced, whatever the sync policy.
func (s *Spool) writeLease(next uint64) error {
	var b [leaseLen]byte
	binary.LittleEndian.PutUint64(b[:8], next)
	binary.LittleEndian.PutUint32(b[8:], crc32.Checksum(b[:8], castagnoli))
	path := filepath.Join(s.dir, leaseName)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("spool: write %s: %w", leaseName, err)
	}
	_, err = f.Write(b[:])
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("spool: write %s: %w", leaseName, err)
	}
	return s.syncDir()
}
