package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// SendError is a failed Send, classified for the Deliverer.
type SendError struct {
	Receiver string // the receiver's type: "webhook", "email", ...
	// Status is the HTTP status or SMTP reply code; 0 when none came back
	// (network error, timeout, bad config).
	Status int
	// Retryable: a later attempt may succeed (network errors, timeouts,
	// HTTP 408, 429 and 5xx, SMTP 4xx). Permanent errors (other HTTP 4xx,
	// SMTP 5xx, a body the template cannot render) are not retried.
	Retryable bool
	// RetryAfter is what the receiver asked to wait (HTTP Retry-After), 0
	// when it did not say.
	RetryAfter time.Duration
	// Body is the start of the response body, at most maxErrorBody bytes.
	Body string
	Err  error
}

func (e *SendError) Error() string {
	var b strings.Builder
	b.WriteString("notify: " + e.Receiver)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": status %d", e.Status)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	if e.Body != "" {
		fmt.Fprintf(&b, ": body %q", e.Body)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

func (e *SendError) Unwrap() error { return e.Err }

// IsRetryable reports whether err is worth another attempt: a *SendError
// says so itself; context cancellation is not retryable (the caller is
// stopping); anything else unclassified is retried, since a transient
// fault is the likelier cause.
func IsRetryable(err error) bool {
	var se *SendError
	if errors.As(err, &se) {
		return se.Retryable
	}
	return !errors.Is(err, context.Canceled)
}

// maxErrorBody bounds the response body kept in an error (and in the
// delivery history): enough to read a receiver's complaint, not a page.
const maxErrorBody = 512

// maxRetryAfter caps what a receiver may ask us to wait.
const maxRetryAfter = 24 * time.Hour

// ParseRetryAfter reads an HTTP Retry-After value (RFC 9110 10.2.3):
// delay-seconds or an HTTP-date, relative to now. A date in the past is
// 0; a delay is capped at 24 hours. An empty or malformed value gives ok
// false.
func ParseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) && strings.Trim(v, "0123456789") == "" {
				return maxRetryAfter, true
			}
			return 0, false
		}
		if n > uint64(maxRetryAfter/time.Second) {
			return maxRetryAfter, true
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d = t.Sub(now)
	switch {
	case d < 0:
		return 0, true
	case d > maxRetryAfter:
		return maxRetryAfter, true
	}
	return d, true
}

// post sends body to url and classifies the outcome.
func post(ctx context.Context, client *http.Client, kind, url string, header http.Header, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return &SendError{Receiver: kind, Err: fmt.Errorf("build request: %w", err)}
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := client.Do(req)
	if err != nil {
		// Network errors and timeouts are worth retrying; a cancelled
		// context is the caller stopping.
		return &SendError{Receiver: kind, Retryable: ctx.Err() == nil, Err: err}
	}
	defer resp.Body.Close()
	// Read a bounded prefix of the body for the error, and drain a little
	// more so the connection can be reused.
	head, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	se := &SendError{Receiver: kind, Status: resp.StatusCode, Body: printable(head)}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusRequestTimeout,
		resp.StatusCode >= 500:
		se.Retryable = true
		se.RetryAfter, _ = ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return se
}

// printable makes a body prefix safe to log: valid UTF-8, trimmed.
func printable(b []byte) string {
	return strings.TrimSpace(strings.ToValidUTF8(string(b), string(utf8.RuneError)))
}

// fieldError names a config field and the rule it breaks.
func fieldError(kind, field, format string, args ...any) error {
	return fmt.Errorf("notify: %s receiver: %s: %s", kind, field, fmt.Sprintf(format, args...))
}
