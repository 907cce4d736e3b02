// Package transport carries batches from the agent to a collector over
// QUIC: one control stream for Hello/Welcome, then one stream per batch.
package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/quic-go/quic-go"
	"google.golang.org/protobuf/proto"

	"github.com/vigilmon/vigil/protocol"
)

// TLSConfig is what the agent needs to verify a collector and, optionally,
// to present a client certificate.
type TLSConfig struct {
	CAFile     string // empty: system roots
	ServerName string // empty: the host part of the collector address
	CertFile   string
	KeyFile    string
}

// Load builds the crypto/tls configuration for one collector address.
func (c TLSConfig) Load(addr string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS13, NextProtos: []string{protocol.ALPN}, ServerName: c.ServerName}
	if tc.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("collector address %q: %w", addr, err)
		}
		tc.ServerName = host
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s: no PEM certificate found", c.CAFile)
		}
		tc.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// RejectError is a collector's refusal of this agent's Hello.
type RejectError struct {
	Code       protocol.Reject_Code
	Message    string
	RetryAfter time.Duration
}

func (e *RejectError) Error() string {
	return fmt.Sprintf("collector refused the agent (%s): %s", e.Code, e.Message)
}

// RefusalError is a collector's refusal of one batch (an Ack of seq 0
// with a refusal): the batch was not stored and stays in the spool.
type RefusalError struct {
	Seq        uint64 // the refused batch's
	Code       protocol.Refusal_Code
	Message    string
	RetryAfter time.Duration // for RETRY_LATER
	// Err is set when the agent itself refused to send the batch, as the
	// collector would have (protocol.ErrFrameTooLarge).
	Err error
}

func (e *RefusalError) Unwrap() error { return e.Err }

func (e *RefusalError) Error() string {
	return fmt.Sprintf("collector refused batch %d (%s): %s", e.Seq, e.Code, e.Message)
}

// refusal returns the refusal ack carries, if any.
func refusal(seq uint64, ack *protocol.Ack) error {
	r := ack.GetRefusal()
	if r == nil || ack.GetSeq() != 0 {
		return nil
	}
	return &RefusalError{Seq: seq, Code: r.GetCode(), Message: r.GetMessage(),
		RetryAfter: time.Duration(r.GetRetryAfterMs()) * time.Millisecond}
}

// Session is an established, welcomed connection to one collector.
type Session struct {
	Addr    string
	Welcome *protocol.Welcome
	// ClockOffset is the collector's clock minus this host's, measured at
	// the Hello round trip: the Welcome's server time against the local
	// midpoint of that round trip, so its error is at most half the round
	// trip.
	ClockOffset time.Duration
	conn        *quic.Conn
	control     *quic.Stream
	maxFrame    int
}

// QUICConfig is the agent's side of the connection's timing. A failed
// collector is noticed on the data path — a batch not acked within the
// sender's ack timeout — not by pinging: keep-alives only hold NAT bindings
// open between batches, so an idle agent wakes rarely. The idle timeout
// (the smaller of both sides') must outlast the longest gap between batches.
func QUICConfig() *quic.Config {
	return &quic.Config{
		HandshakeIdleTimeout: 5 * time.Second,
		MaxIdleTimeout:       2 * time.Minute,
		KeepAlivePeriod:      25 * time.Second,
	}
}

// Dial connects to addr, sends hello and waits for the collector's answer.
// A Reject is returned as *RejectError.
func Dial(ctx context.Context, addr string, tc *tls.Config, hello *protocol.Hello) (*Session, error) {
	conn, err := quic.DialAddr(ctx, addr, tc, QUICConfig())
	if err != nil {
		return nil, fmt.Errorf("dial collector %s: %w", addr, err)
	}
	s, err := handshake(ctx, conn, hello)
	if err != nil {
		conn.CloseWithError(0, "handshake failed")
		return nil, fmt.Errorf("collector %s: %w", addr, err)
	}
	s.Addr = addr
	return s, nil
}

func handshake(ctx context.Context, conn *quic.Conn, hello *protocol.Hello) (*Session, error) {
	st, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return nil, fmt.Errorf("open control stream: %w", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	st.SetDeadline(deadline)
	sent := time.Now()
	if err := protocol.WriteFrame(st, hello, protocol.DefaultMaxFrameBytes); err != nil {
		return nil, fmt.Errorf("send hello: %w", err)
	}
	var reply protocol.HelloReply
	if err := protocol.NewFrameReader(st, protocol.DefaultMaxFrameBytes).Read(&reply); err != nil {
		return nil, fmt.Errorf("read hello reply: %w", err)
	}
	received := time.Now()
	st.SetDeadline(time.Time{})
	switch r := reply.Reply.(type) {
	case *protocol.HelloReply_Reject:
		return nil, &RejectError{
			Code:       r.Reject.GetCode(),
			Message:    r.Reject.GetMessage(),
			RetryAfter: time.Duration(r.Reject.GetRetryAfterS()) * time.Second,
		}
	case *protocol.HelloReply_Welcome:
		w := r.Welcome
		maxFrame := int(w.GetMaxFrameBytes())
		if maxFrame <= 0 || maxFrame > protocol.DefaultMaxFrameBytes {
			maxFrame = protocol.DefaultMaxFrameBytes
		}
		return &Session{Welcome: w, conn: conn, control: st, maxFrame: maxFrame,
			ClockOffset: clockOffset(w.GetServerTimeMs(), sent, received)}, nil
	}
	return nil, errors.New("hello reply holds neither Welcome nor Reject")
}

// clockOffset is serverMS (the collector's time when it answered) minus
// the local midpoint of the round trip from sent to received. A collector
// that sends no time (0) gives 0: nothing is known.
func clockOffset(serverMS int64, sent, received time.Time) time.Duration {
	if serverMS <= 0 {
		return 0
	}
	mid := sent.Add(received.Sub(sent) / 2)
	return time.UnixMilli(serverMS).Sub(mid)
}

// MaxInflight is the number of batches the collector lets this agent have
// in flight at once.
func (s *Session) MaxInflight() int {
	n := int(s.Welcome.GetMaxInflight())
	if n <= 0 {
		return 1
	}
	return n
}

// Done is closed when the connection ends.
func (s *Session) Done() <-chan struct{} { return s.conn.Context().Done() }

// Err is why the connection ended (the collector's close reason, such as
// a revoked token, or a timeout), once Done is closed.
func (s *Session) Err() error { return context.Cause(s.conn.Context()) }

// Send delivers one batch on its own stream and waits for its Ack.
func (s *Session) Send(ctx context.Context, b *protocol.Batch) (*protocol.Ack, error) {
	payload, err := proto.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("encode batch %d: %w", b.GetSeq(), err)
	}
	return s.SendRaw(ctx, b.GetSeq(), payload)
}

// SendRaw is Send for a batch already encoded (as the spool keeps it):
// payload is the encoded protocol.Batch whose seq is seq.
func (s *Session) SendRaw(ctx context.Context, seq uint64, payload []byte) (*protocol.Ack, error) {
	if len(payload) > s.maxFrame {
		// Refused here as the collector would refuse it, so the sender
		// keeps it and backs off instead of reconnecting in a loop.
		return nil, &RefusalError{Seq: seq, Code: protocol.Refusal_CODE_BAD_FRAME, Err: protocol.ErrFrameTooLarge,
			Message: fmt.Sprintf("not sent: %d bytes exceeds the collector's %d byte limit", len(payload), s.maxFrame)}
	}
	st, err := s.conn.OpenStreamSync(ctx)
	if err != nil {
		return nil, fmt.Errorf("open stream for batch %d: %w", seq, err)
	}
	defer st.CancelRead(0)
	if d, ok := ctx.Deadline(); ok {
		st.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { st.SetDeadline(time.Now()) })
	defer stop()
	frame := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen64+len(payload)), uint64(len(payload)))
	if _, err := st.Write(append(frame, payload...)); err != nil {
		st.CancelWrite(0)
		// The collector may have stopped our sending because it refused
		// the batch early (too large): its refusal says why.
		var ack protocol.Ack
		st.SetReadDeadline(time.Now().Add(time.Second))
		if protocol.NewFrameReader(st, protocol.DefaultMaxFrameBytes).Read(&ack) == nil {
			if rerr := refusal(seq, &ack); rerr != nil {
				return nil, rerr
			}
		}
		return nil, fmt.Errorf("send batch %d: %w", seq, err)
	}
	st.Close()
	var ack protocol.Ack
	if err := protocol.NewFrameReader(st, protocol.DefaultMaxFrameBytes).Read(&ack); err != nil {
		return nil, fmt.Errorf("read ack of batch %d: %w", seq, err)
	}
	if err := refusal(seq, &ack); err != nil {
		return nil, err
	}
	if ack.GetSeq() != seq {
		return nil, fmt.Errorf("ack for batch %d answered batch %d", seq, ack.GetSeq())
	}
	return &ack, nil
}

// Close ends the session.
func (s *Session) Close(reason string) {
	s.conn.CloseWithError(0, reason)
}
