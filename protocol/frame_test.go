package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"google.golang.org/protobuf/proto"
)

func TestFrameRoundTrip(t *testing.T) {
	msgs := []proto.Message{
		&Hello{ProtocolVersion: Version, AgentId: "web-1", Token: "t", Labels: map[string]string{"env": "prod"}},
		&Batch{Seq: 7, Results: []*CheckResult{{Check: "cpu", TimestampMs: 1700000000000, Status: Status_STATUS_OK,
			Metrics: []*Metric{{Name: "usage_percent", Type: MetricType_METRIC_TYPE_GAUGE, Value: 12.5}}}}},
		&Ack{Seq: 7, Accepted: 1},
		&Ack{}, // zero-length payload is a valid frame
	}
	var buf bytes.Buffer
	for _, m := range msgs {
		if err := WriteFrame(&buf, m, DefaultMaxFrameBytes); err != nil {
			t.Fatal(err)
		}
	}
	fr := NewFrameReader(&buf, DefaultMaxFrameBytes)
	for i, want := range msgs {
		got := want.ProtoReflect().New().Interface()
		if err := fr.Read(got); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !proto.Equal(got, want) {
			t.Fatalf("frame %d: got %v, want %v", i, got, want)
		}
	}
	if _, err := fr.Next(); err != io.EOF {
		t.Fatalf("after last frame: got %v, want io.EOF", err)
	}
}

func TestFrameErrors(t *testing.T) {
	big := binary.AppendUvarint(nil, DefaultMaxFrameBytes+1)
	tests := []struct {
		name  string
		input []byte
		max   int
		want  error
	}{
		{"over limit", big, DefaultMaxFrameBytes, ErrFrameTooLarge},
		{"huge length prefix", binary.AppendUvarint(nil, 1<<62), DefaultMaxFrameBytes, ErrFrameTooLarge},
		{"varint overflow", bytes.Repeat([]byte{0xff}, 11), DefaultMaxFrameBytes, ErrFrameTooLarge},
		{"truncated length", []byte{0x80}, DefaultMaxFrameBytes, ErrTruncated},
		{"truncated body", append(binary.AppendUvarint(nil, 10), 1, 2, 3), DefaultMaxFrameBytes, ErrTruncated},
		{"length just over small limit", append(binary.AppendUvarint(nil, 5), 1, 2, 3, 4, 5), 4, ErrFrameTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewFrameReader(bytes.NewReader(tt.input), tt.max).Next()
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestWriteFrameRefusesOversize(t *testing.T) {
	m := &Ack{Errors: []string{string(make([]byte, 100))}}
	err := WriteFrame(io.Discard, m, 50)
	if !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("got %v, want ErrFrameTooLarge", err)
	}
}

func FuzzFrameReader(f *testing.F) {
	seed, _ := AppendFrame(nil, &Batch{Seq: 1, Results: []*CheckResult{{Check: "cpu"}}})
	f.Add(seed)
	f.Add([]byte{0x80})
	f.Add(bytes.Repeat([]byte{0xff}, 12))
	f.Add(binary.AppendUvarint(nil, 1<<40))
	f.Fuzz(func(t *testing.T, data []byte) {
		const max = 1 << 16
		fr := NewFrameReader(bytes.NewReader(data), max)
		for i := 0; i < 1000; i++ {
			b, err := fr.Next()
			if err != nil {
				return
			}
			if len(b) > max {
				t.Fatalf("frame of %d bytes passed the %d byte limit", len(b), max)
			}
			var batch Batch
			_ = proto.Unmarshal(b, &batch) // must not panic
		}
	})
}
