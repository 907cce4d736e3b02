// Package protocol holds the wire messages shared by vigil-agent and
// vigil-collector, their framing and the protocol's limits. It imports
// neither side.
package protocol

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/proto"
)

const (
	// Version is the protocol version an agent puts in Hello.
	Version = 1
	// ALPN is the QUIC application protocol both sides negotiate.
	ALPN = "vigil/1"
	// DefaultMaxFrameBytes is the largest frame either side accepts unless
	// Welcome negotiates a smaller one.
	DefaultMaxFrameBytes = 4 << 20
	// DefaultMaxInflight bounds the batches an agent has in flight at once.
	DefaultMaxInflight = 8
)

// ErrFrameTooLarge is returned when a frame's declared length exceeds the limit.
var ErrFrameTooLarge = errors.New("frame too large")

// ErrTruncated is returned when the stream ends inside a frame.
var ErrTruncated = errors.New("truncated frame")

// maxVarintLen bounds the length prefix so a stream of 0x80 bytes cannot
// keep the reader looping.
const maxVarintLen = binary.MaxVarintLen64

// AppendFrame appends the framed encoding of m to buf.
func AppendFrame(buf []byte, m proto.Message) ([]byte, error) {
	size := proto.Size(m)
	buf = binary.AppendUvarint(buf, uint64(size))
	out, err := proto.MarshalOptions{}.MarshalAppend(buf, m)
	if err != nil {
		return buf, fmt.Errorf("encode %T: %w", m, err)
	}
	return out, nil
}

// WriteFrame writes m as one frame, refusing frames over max bytes so the
// peer never has to.
func WriteFrame(w io.Writer, m proto.Message, max int) error {
	if n := proto.Size(m); n > max {
		return fmt.Errorf("write %T: %d bytes exceeds the %d byte limit: %w", m, n, max, ErrFrameTooLarge)
	}
	buf, err := AppendFrame(nil, m)
	if err != nil {
		return err
	}
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("write %T: %w", m, err)
	}
	return nil
}

// FrameReader reads frames from a stream. Its buffer grows only up to the
// frame limit, so a hostile length prefix costs nothing.
type FrameReader struct {
	r   *bufio.Reader
	max int
	buf []byte
}

// NewFrameReader returns a reader that refuses frames larger than max bytes.
func NewFrameReader(r io.Reader, max int) *FrameReader {
	return &FrameReader{r: bufio.NewReader(r), max: max}
}

// Next returns the next frame's payload. The slice is valid until the next
// call. At a clean end of stream between frames it returns io.EOF.
func (fr *FrameReader) Next() ([]byte, error) {
	var size uint64
	var shift uint
	for i := 0; ; i++ {
		b, err := fr.r.ReadByte()
		if err != nil {
			if err == io.EOF {
				if i == 0 {
					return nil, io.EOF
				}
				return nil, fmt.Errorf("read frame length: %w", ErrTruncated)
			}
			return nil, fmt.Errorf("read frame length: %w", err)
		}
		if i == maxVarintLen-1 && b > 1 || i >= maxVarintLen {
			return nil, fmt.Errorf("read frame length: varint overflows 64 bits: %w", ErrFrameTooLarge)
		}
		size |= uint64(b&0x7f) << shift
		if b < 0x80 {
			break
		}
		shift += 7
	}
	if size > uint64(fr.max) {
		return nil, fmt.Errorf("frame of %d bytes exceeds the %d byte limit: %w", size, fr.max, ErrFrameTooLarge)
	}
	n := int(size)
	if cap(fr.buf) < n {
		fr.buf = make([]byte, n)
	}
	fr.buf = fr.buf[:n]
	if _, err := io.ReadFull(fr.r, fr.buf); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF {
			return nil, fmt.Errorf("read frame of %d bytes: %w", n, ErrTruncated)
		}
		return nil, fmt.Errorf("read frame of %d bytes: %w", n, err)
	}
	return fr.buf, nil
}

// Read decodes the next frame into m.
func (fr *FrameReader) Read(m proto.Message) error {
	b, err := fr.Next()
	if err != nil {
		return err
	}
	if err := proto.Unmarshal(b, m); err != nil {
		return fmt.Errorf("decode %T: %w", m, err)
	}
	return nil
}

// SetMax changes the frame limit, as negotiated in Welcome.
func (fr *FrameReader) SetMax(max int) { fr.max = max }
