package alarm

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// Encodings' first byte: the kind and version. A new layout takes a new
// byte, and the decoder keeps reading the old ones.
const (
	machineV1 byte = 1
	agentV1   byte = 2
)

// MarshalBinary encodes the machine for the store (about 20 bytes plus
// the message):
//
//	byte 1 | state | candidate | count | flags (bit 0: held)
//	varint since ms | varint entered ms | varint last ms | uvarint len | message
func (m *Machine) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 5+3*binary.MaxVarintLen64+2+len(m.message))
	var flags byte
	if m.held {
		flags |= 1
	}
	b = append(b, machineV1, byte(m.state), byte(m.candidate), m.count, flags)
	b = binary.AppendVarint(b, m.since)
	b = binary.AppendVarint(b, m.entered)
	b = binary.AppendVarint(b, m.last)
	b = binary.AppendUvarint(b, uint64(len(m.message)))
	return append(b, m.message...), nil
}

// UnmarshalBinary decodes what MarshalBinary wrote, refusing anything
// else: a stored state must never make the machine misbehave.
func (m *Machine) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	if v := d.byte(); d.err == nil && v != machineV1 {
		return fmt.Errorf("%w: unknown encoding %d, want %d", errState, v, machineV1)
	}
	var n Machine
	n.state, n.candidate, n.count = State(d.byte()), State(d.byte()), d.byte()
	flags := d.byte()
	n.since, n.entered, n.last = d.varint(), d.varint(), d.varint()
	msg := d.string(maxStoredMessage)
	if d.err != nil {
		return d.err
	}
	switch {
	case len(d.b) != 0:
		return fmt.Errorf("%w: %d bytes after the end", errState, len(d.b))
	case n.state >= numStates || n.state == StateAgentDown:
		return fmt.Errorf("%w: state %d is not an alarm state", errState, n.state)
	case n.candidate >= numStates || n.candidate == StateAgentDown || n.candidate == StateNoData:
		return fmt.Errorf("%w: pending state %d is not one an observation gives", errState, n.candidate)
	case (n.candidate == StateNone) != (n.count == 0) || n.count >= MaxCount:
		return fmt.Errorf("%w: pending %v with count %d", errState, n.candidate, n.count)
	case flags&^1 != 0:
		return fmt.Errorf("%w: unknown flags %#x", errState, flags)
	}
	n.held = flags&1 != 0
	n.message = msg
	*m = n
	return nil
}

// MarshalBinary encodes the agent's state:
//
//	byte 2 | state | varint down-since ms | varint entered ms
func (a *Agent) MarshalBinary() ([]byte, error) {
	b := append(make([]byte, 0, 2+2*binary.MaxVarintLen64), agentV1, byte(a.state))
	b = binary.AppendVarint(b, a.downSince)
	return binary.AppendVarint(b, a.entered), nil
}

// UnmarshalBinary decodes what MarshalBinary wrote.
func (a *Agent) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	if v := d.byte(); d.err == nil && v != agentV1 {
		return fmt.Errorf("%w: unknown agent encoding %d, want %d", errState, v, agentV1)
	}
	var n Agent
	n.state = State(d.byte())
	n.downSince, n.entered = d.varint(), d.varint()
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%w: %d bytes after the end", errState, len(d.b))
	}
	if n.state != StateNone && n.state != StateOK && n.state != StateAgentDown {
		return fmt.Errorf("%w: state %v is not an agent state", errState, n.state)
	}
	*a = n
	return nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: truncated or malformed %s", errState, what)
	}
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.fail("header")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("time")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string(limit int) string {
	if d.err != nil {
		return ""
	}
	l, n := binary.Uvarint(d.b)
	if n <= 0 || l > uint64(limit) || l > uint64(len(d.b)-n) {
		d.fail("message")
		return ""
	}
	s := string(d.b[n : n+int(l)])
	d.b = d.b[n+int(l):]
	if !utf8.ValidString(s) {
		d.fail("message (not UTF-8)")
		return ""
	}
	return s
}
