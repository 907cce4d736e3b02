package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Receiver sends notifications somewhere. Send returns nil when the
// receiver accepted the notification, else an error that IsRetryable
// classifies (a *SendError for the receivers of this package).
type Receiver interface {
	// Type names the receiver kind: "webhook", "slack", "pagerduty",
	// "alertmanager", "email".
	Type() string
	Send(ctx context.Context, n Notification) error
}

// Duration is a time.Duration that reads and writes as text ("10s") in
// JSON configs.
type Duration time.Duration

func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

const (
	defaultTimeout = 10 * time.Second
	maxTimeout     = 2 * time.Minute
)

// checkTimeout validates a timeout field and applies its default.
func checkTimeout(kind string, d Duration) (time.Duration, error) {
	switch {
	case d == 0:
		return defaultTimeout, nil
	case d < 0 || time.Duration(d) > maxTimeout:
		return 0, fieldError(kind, "timeout", "%s is outside (0, %s]", time.Duration(d), maxTimeout)
	}
	return time.Duration(d), nil
}

// checkURL validates an http(s) URL field.
func checkURL(kind, field, raw string) (*url.URL, error) {
	if raw == "" {
		return nil, fieldError(kind, field, "is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fieldError(kind, field, "not a URL: %v", redactErr(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fieldError(kind, field, "scheme %q is not http or https", u.Scheme)
	}
	if u.Host == "" {
		return nil, fieldError(kind, field, "has no host")
	}
	if u.Fragment != "" {
		return nil, fieldError(kind, field, "has a fragment")
	}
	return u, nil
}

// redactErr drops the URL from a *url.Error: receiver URLs often carry a
// secret (Slack's path, a token in the query), and errors end up in logs
// and the delivery history.
func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s %s: %w", strings.ToUpper(ue.Op), redactURL(ue.URL), ue.Err)
	}
	return err
}

// redactURL keeps a URL's scheme and host.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "<url>"
	}
	return u.Scheme + "://" + u.Host + "/..."
}

// checkHeaders validates custom header names and values.
func checkHeaders(kind string, h map[string]string) (http.Header, error) {
	out := make(http.Header, len(h))
	for k, v := range h {
		if !validHeaderName(k) {
			return nil, fieldError(kind, "headers", "%q is not a valid header name", k)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return nil, fieldError(kind, "headers", "value of %q contains CR, LF or NUL", k)
		}
		switch http.CanonicalHeaderKey(k) {
		case "Host", "Content-Length", "Transfer-Encoding", "Connection":
			return nil, fieldError(kind, "headers", "%q is set by the HTTP client", k)
		}
		out.Set(k, v)
	}
	return out, nil
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// httpSender is what the HTTP receivers share.
type httpSender struct {
	kind   string
	url    string
	client *http.Client
	header http.Header
}

func newHTTPSender(kind, url string, timeout time.Duration, header http.Header) httpSender {
	return httpSender{kind: kind, url: url, client: &http.Client{Timeout: timeout}, header: header}
}

func (s httpSender) send(ctx context.Context, key string, body []byte) error {
	h := s.header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	h.Set("Idempotency-Key", key)
	h.Set("User-Agent", "vigil-collector")
	err := post(ctx, s.client, s.kind, s.url, h, body)
	var se *SendError
	if errors.As(err, &se) && se.Err != nil {
		se.Err = redactErr(se.Err)
	}
	return err
}

// maxConfigBytes bounds a receiver config document.
const maxConfigBytes = 64 << 10

// ParseReceiver reads one receiver config, the shape the /v1/
// notification API will store: JSON with a type and that type's fields,
// e.g. {"type": "slack", "url": "https://hooks.example/T0/B0/x"}; unknown
// fields are refused. It builds the receiver. Errors name the field and the rule.
func ParseReceiver(data []byte) (Receiver, error) {
	if len(data) > maxConfigBytes {
		return nil, fmt.Errorf("notify: receiver config is %d bytes, over the %d byte limit", len(data), maxConfigBytes)
	}
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("notify: receiver config: %w", err)
	}
	switch head.Type {
	case "webhook":
		var c WebhookConfig
		if err := decodeStrict(data, &c); err != nil {
			return nil, err
		}
		return asReceiver(NewWebhook(c))
	case "slack":
		var c SlackConfig
		if err := decodeStrict(data, &c); err != nil {
			return nil, err
		}
		return asReceiver(NewSlack(c))
	case "pagerduty":
		var c PagerDutyConfig
		if err := decodeStrict(data, &c); err != nil {
			return nil, err
		}
		return asReceiver(NewPagerDuty(c))
	case "alertmanager":
		var c AlertmanagerConfig
		if err := decodeStrict(data, &c); err != nil {
			return nil, err
		}
		return asReceiver(NewAlertmanager(c))
	case "email":
		var c EmailConfig
		if err := decodeStrict(data, &c); err != nil {
			return nil, err
		}
		return asReceiver(NewEmail(c))
	case "":
		return nil, errors.New("notify: receiver config: type is required (webhook, slack, pagerduty, alertmanager, email)")
	}
	return nil, fmt.Errorf("notify: receiver config: type %q is not one of webhook, slack, pagerduty, alertmanager, email", head.Type)
}

func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("notify: receiver config: %w", err)
	}
	if dec.More() {
		return errors.New("notify: receiver config: trailing data after the object")
	}
	return nil
}

// asReceiver keeps a failed constructor's typed nil pointer out of the
// Receiver interface, where it would not compare equal to nil.
func asReceiver[R Receiver](r R, err error) (Receiver, error) {
	if err != nil {
		return nil, err
	}
	return r, nil
}
