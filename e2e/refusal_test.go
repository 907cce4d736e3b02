package e2e

import (
	"context"
	"errors"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilmon/vigil/agent/transport"
	"github.com/vigilmon/vigil/protocol"
)

// TestCollectorRefusesGarbageWithReason: the real collector answers
// undecodable batches from a welcomed agent with a BAD_FRAME refusal the
// agent's transport reads, keeps the connection, and logs 200 of them in
// a few lines that count them all.
func TestCollectorRefusesGarbageWithReason(t *testing.T) {
	soak(t)
	e := setup(t, "1s")
	coll := start(t, e.coll, "run", "--config", filepath.Join(e.dir, "collector.toml"))
	tc, err := transport.TLSConfig{CAFile: filepath.Join(e.dir, "tls", "ca.pem")}.Load(e.quic)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var sess *transport.Session
	waitFor(t, 10*time.Second, "the collector to welcome the agent", func() bool {
		sess, err = transport.Dial(ctx, e.quic, tc, &protocol.Hello{ProtocolVersion: protocol.Version,
			AgentId: "e2e-host", Token: e.token(t, "agent-token"), Hostname: "e2e-host"})
		return err == nil
	})
	defer sess.Close("test over")
	const n = 200
	for i := range n {
		_, err := sess.SendRaw(ctx, uint64(i+1), []byte{0xff, 0xff, 0xff})
		var ref *transport.RefusalError
		if !errors.As(err, &ref) || ref.Code != protocol.Refusal_CODE_BAD_FRAME || !strings.Contains(ref.Message, "not a protobuf Batch") {
			t.Fatalf("garbage batch %d: %v, want a BAD_FRAME refusal saying why", i+1, err)
		}
	}
	select {
	case <-sess.Done():
		t.Fatalf("the collector closed the connection: %v", sess.Err())
	default:
	}
	suppressed := regexp.MustCompile(`suppressed=(\d+)`)
	var lines []string
	waitFor(t, 15*time.Second, "the collector to account for every refusal in its log", func() bool {
		lines = nil
		total := 0
		for _, l := range strings.Split(coll.output(), "\n") {
			if !strings.Contains(l, `msg="batch refused`) {
				continue
			}
			lines = append(lines, l)
			total++
			if m := suppressed.FindStringSubmatch(l); m != nil {
				k, _ := strconv.Atoi(m[1])
				total += k - 1
			}
		}
		return total == n
	})
	if len(lines) > 3 || !strings.Contains(lines[0], "reason=undecodable") {
		t.Fatalf("%d log lines for %d refused batches, want a few with the reason:\n%s", len(lines), n, strings.Join(lines, "\n"))
	}
}
