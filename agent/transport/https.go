package transport

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"google.golang.org/protobuf/proto"

	"github.com/vigilmon/vigil/protocol"
)

// The HTTPS fallback (DESIGN §5): where QUIC cannot get through, a batch is
// POSTed to the collector's /v1/ingest as the same frame it would travel
// in on a QUIC stream, and the answer is the same Ack.
const (
	protobufType = "application/x-protobuf"
	agentHeader  = "X-Vigil-Agent"
	ingestPath   = "/v1/ingest"
	// maxErrorBody bounds how much of an error answer is read.
	maxErrorBody = 64 << 10
)

// HTTPSClient sends batches to one collector's POST /v1/ingest, retrying a
// failed attempt a bounded number of times. It is safe for concurrent use.
type HTTPSClient struct {
	url     string
	agentID string
	token   string
	client  *retryablehttp.Client
}

// NewHTTPSClient returns a client for the collector at baseURL
// (https://HOST:PORT, or http:// on a loopback host), verified as tls says.
func NewHTTPSClient(baseURL string, tls TLSConfig, agentID, token string, log *slog.Logger) (*HTTPSClient, error) {
	u, err := ParseCollectorURL(baseURL)
	if err != nil {
		return nil, err
	}
	c, err := NewRetryableClient(u, tls, log)
	if err != nil {
		return nil, err
	}
	return &HTTPSClient{url: Endpoint(u, ingestPath), agentID: agentID, token: token, client: c}, nil
}

// URL is where batches go.
func (c *HTTPSClient) URL() string { return c.url }

// Send posts one batch and returns its Ack. The Ack arrives only once the
// collector has stored the batch; any error means it may not have, and the
// batch must be kept and sent again. A collector's refusal is *HTTPError.
func (c *HTTPSClient) Send(ctx context.Context, b *protocol.Batch) (*protocol.Ack, error) {
	if n := proto.Size(b); n > protocol.DefaultMaxFrameBytes {
		return nil, fmt.Errorf("batch %d: %d bytes exceeds the %d byte limit: %w", b.GetSeq(), n, protocol.DefaultMaxFrameBytes, protocol.ErrFrameTooLarge)
	}
	body, err := protocol.AppendFrame(nil, b)
	if err != nil {
		return nil, fmt.Errorf("batch %d: %w", b.GetSeq(), err)
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, c.url, body)
	if err != nil {
		return nil, fmt.Errorf("batch %d: %w", b.GetSeq(), err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set(agentHeader, c.agentID)
	req.Header.Set("Content-Type", protobufType)
	req.Header.Set("Accept", protobufType)
	resp, err := c.client.Do(req)
	if resp != nil {
		defer resp.Body.Close()
	}
	if resp == nil {
		return nil, fmt.Errorf("send batch %d to %s: %w", b.GetSeq(), c.url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("send batch %d to %s: %w", b.GetSeq(), c.url, ReadHTTPError(resp))
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != protobufType {
		return nil, fmt.Errorf("send batch %d to %s: the answer is %q, not an Ack (%s); is this a Vigil collector?",
			b.GetSeq(), c.url, resp.Header.Get("Content-Type"), protobufType)
	}
	var ack protocol.Ack
	limited := io.LimitReader(resp.Body, protocol.DefaultMaxFrameBytes+binary.MaxVarintLen64)
	if err := protocol.NewFrameReader(limited, protocol.DefaultMaxFrameBytes).Read(&ack); err != nil {
		return nil, fmt.Errorf("read ack of batch %d from %s: %w", b.GetSeq(), c.url, err)
	}
	if ack.GetSeq() != b.GetSeq() {
		return nil, fmt.Errorf("ack for batch %d answered batch %d", b.GetSeq(), ack.GetSeq())
	}
	return &ack, nil
}

// Close drops idle connections.
func (c *HTTPSClient) Close() { c.client.HTTPClient.CloseIdleConnections() }

// HTTPError is a collector's error answer: {"error": {"code", "message"}}.
type HTTPError struct {
	StatusCode int
	Code       string
	Message    string
}

func (e *HTTPError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("collector answered %d %s: %s", e.StatusCode, http.StatusText(e.StatusCode), e.Message)
	}
	return fmt.Sprintf("collector answered %d %s (%s): %s", e.StatusCode, http.StatusText(e.StatusCode), e.Code, e.Message)
}

// Permanent reports whether sending the same request again cannot help
// (a refused token, a malformed or oversized request), as opposed to a
// collector that is briefly unable to answer.
func (e *HTTPError) Permanent() bool {
	return e.StatusCode >= 400 && e.StatusCode < 500 &&
		e.StatusCode != http.StatusRequestTimeout && e.StatusCode != http.StatusTooManyRequests
}

// ReadHTTPError turns a non-success answer into *HTTPError.
func ReadHTTPError(resp *http.Response) *HTTPError {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &HTTPError{StatusCode: resp.StatusCode}
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &body) == nil && body.Error.Message != "" {
		e.Code, e.Message = body.Error.Code, body.Error.Message
		return e
	}
	e.Message = strings.TrimSpace(string(b))
	if len(e.Message) > 200 {
		e.Message = e.Message[:200] + "..."
	}
	if e.Message == "" {
		e.Message = "(no message)"
	}
	return e
}

// ParseCollectorURL checks a collector's API address: https://HOST[:PORT],
// or http:// when HOST is a loopback address (a development collector).
func ParseCollectorURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("collector URL %q: %w", s, err)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("collector URL %q: want https://HOST:PORT", s)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("collector URL %q: want https://HOST:PORT without user, query or fragment", s)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !Loopback(u.Hostname()) {
			return nil, fmt.Errorf("collector URL %q: plain http:// is only allowed to a loopback address; use https://", s)
		}
	default:
		return nil, fmt.Errorf("collector URL %q: want https://HOST:PORT", s)
	}
	return u, nil
}

// Loopback reports whether host is localhost or a loopback IP address.
func Loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Endpoint is path under the collector's base URL, which may carry a path
// prefix of its own (a reverse proxy's).
func Endpoint(base *url.URL, path string) string {
	u := *base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawPath = ""
	return u.String()
}

// NewRetryableClient returns an HTTP client for the collector at u: two
// retries of connection errors and 5xx/429 answers with backoff, the
// collector's certificate verified as tc says (TLS 1.2 or later), no
// redirects (the token goes nowhere else), and the library's logging at
// debug level of log.
func NewRetryableClient(u *url.URL, tc TLSConfig, log *slog.Logger) (*retryablehttp.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if u.Scheme == "https" {
		port := u.Port()
		if port == "" {
			port = "443"
		}
		cfg, err := tc.Load(net.JoinHostPort(u.Hostname(), port))
		if err != nil {
			return nil, err
		}
		// Load is made for QUIC; HTTPS negotiates h2 or http/1.1 itself.
		cfg.NextProtos = nil
		cfg.MinVersion = tls.VersionTLS12
		tr.TLSClientConfig = cfg
	}
	c := retryablehttp.NewClient()
	c.HTTPClient = &http.Client{
		Transport: tr,
		Timeout:   60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	c.RetryMax = 2
	c.RetryWaitMin = 500 * time.Millisecond
	c.RetryWaitMax = 5 * time.Second
	c.Logger = retryLogger{log.With("component", "retryablehttp")}
	// Hand back the last answer, so its error message reaches the caller.
	c.ErrorHandler = retryablehttp.PassthroughErrorHandler
	return c, nil
}

// retryLogger routes go-retryablehttp's messages to slog at debug level:
// callers report the outcome themselves.
type retryLogger struct{ log *slog.Logger }

func (l retryLogger) Error(msg string, kv ...any) { l.log.Debug(msg, kv...) }
func (l retryLogger) Warn(msg string, kv ...any)  { l.log.Debug(msg, kv...) }
func (l retryLogger) Info(msg string, kv ...any)  { l.log.Debug(msg, kv...) }
func (l retryLogger) Debug(msg string, kv ...any) { l.log.Debug(msg, kv...) }
