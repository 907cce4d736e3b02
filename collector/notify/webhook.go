package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"text/template"
	"text/template/parse"
)

const (
	defaultMaxBody = 64 << 10
	maxMaxBody     = 1 << 20
)

// WebhookConfig configures a webhook: a POST of the notification as JSON
// (Notification.MarshalJSON), or of a text/template's output.
type WebhookConfig struct {
	Type string `json:"type,omitempty"` // "webhook" in a parsed config
	// URL (required) is the http or https URL to POST to.
	URL string `json:"url"`
	// Headers are added to each request (e.g. Authorization);
	// Content-Type defaults to application/json. Host, Content-Length,
	// Transfer-Encoding and Connection are refused.
	Headers map[string]string `json:"headers,omitempty"`
	// Template, when set, is a text/template rendered with the
	// Notification as its data (.Tenant, .AlarmName, .State, .Summary,
	// .Transitions, .Count, .Key, .Resolved, .Agents) and a json function
	// that writes any value as JSON.
	Template string `json:"template,omitempty"`
	// MaxBodyBytes bounds the rendered body (default 64 KiB, at most
	// 1 MiB): a template that writes more fails the send, permanently.
	MaxBodyBytes int `json:"max_body_bytes,omitempty"`
	// Timeout bounds one attempt (default 10s, at most 2m).
	Timeout Duration `json:"timeout,omitempty"`
}

// Webhook is the webhook receiver.
type Webhook struct {
	http    httpSender
	tmpl    *template.Template
	maxBody int
}

var templateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
}

// NewWebhook validates c and builds the receiver.
func NewWebhook(c WebhookConfig) (*Webhook, error) {
	const kind = "webhook"
	if c.Type != "" && c.Type != kind {
		return nil, fieldError(kind, "type", "is %q", c.Type)
	}
	if _, err := checkURL(kind, "url", c.URL); err != nil {
		return nil, err
	}
	timeout, err := checkTimeout(kind, c.Timeout)
	if err != nil {
		return nil, err
	}
	header, err := checkHeaders(kind, c.Headers)
	if err != nil {
		return nil, err
	}
	w := &Webhook{maxBody: c.MaxBodyBytes}
	switch {
	case w.maxBody == 0:
		w.maxBody = defaultMaxBody
	case w.maxBody < 0 || w.maxBody > maxMaxBody:
		return nil, fieldError(kind, "max_body_bytes", "%d is outside [1, %d]", w.maxBody, maxMaxBody)
	}
	if c.Template != "" {
		if len(c.Template) > w.maxBody {
			return nil, fieldError(kind, "template", "is %d bytes, over max_body_bytes %d", len(c.Template), w.maxBody)
		}
		t, err := template.New("webhook").Funcs(templateFuncs).Option("missingkey=error").Parse(c.Template)
		if err != nil {
			return nil, fieldError(kind, "template", "%v", err)
		}
		if err := checkTemplate(t); err != nil {
			return nil, fieldError(kind, "template", "%v", err)
		}
		w.tmpl = t
	}
	w.http = newHTTPSender(kind, c.URL, timeout, header)
	return w, nil
}

func (*Webhook) Type() string { return "webhook" }

// errBodyTooLarge is what a template that writes past the limit gets.
var errBodyTooLarge = errors.New("body exceeds max_body_bytes")

// limitedBuffer fails writes past max bytes, so a runaway template stops
// early instead of filling memory.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		return 0, errBodyTooLarge
	}
	return b.Buffer.Write(p)
}

// Render returns the request body for n: the template's output, or the
// JSON form of n.
func (w *Webhook) Render(n Notification) ([]byte, error) {
	if w.tmpl == nil {
		b, err := json.Marshal(n)
		if err != nil {
			return nil, err
		}
		if len(b) > w.maxBody {
			return nil, fmt.Errorf("%w (%d > %d)", errBodyTooLarge, len(b), w.maxBody)
		}
		return b, nil
	}
	return renderTemplate(w.tmpl, n, w.maxBody)
}

func renderTemplate(t *template.Template, n Notification, max int) ([]byte, error) {
	buf := &limitedBuffer{max: max}
	if err := t.Execute(buf, n); err != nil {
		if errors.Is(err, errBodyTooLarge) {
			return nil, fmt.Errorf("render template: %w (%d bytes)", errBodyTooLarge, max)
		}
		return nil, fmt.Errorf("render template: %w", err)
	}
	return buf.Bytes(), nil
}

// Send POSTs the body; the Idempotency-Key header carries n.Key.
func (w *Webhook) Send(ctx context.Context, n Notification) error {
	body, err := w.Render(n)
	if err != nil {
		return &SendError{Receiver: "webhook", Err: err}
	}
	return w.http.send(ctx, n.Key, body)
}

// SlackConfig configures a Slack-compatible incoming webhook (Slack,
// Mattermost, Rocket.Chat, Discord's /slack endpoint): a POST of
// {"text": summary}.
type SlackConfig struct {
	Type string `json:"type,omitempty"` // "slack" in a parsed config
	// URL (required) is the incoming webhook's URL. It is a secret:
	// errors show only its scheme and host.
	URL string `json:"url"`
	// Timeout bounds one attempt (default 10s, at most 2m).
	Timeout Duration `json:"timeout,omitempty"`
}

// Slack is the Slack-compatible receiver.
type Slack struct{ http httpSender }

// NewSlack validates c and builds the receiver.
func NewSlack(c SlackConfig) (*Slack, error) {
	const kind = "slack"
	if c.Type != "" && c.Type != kind {
		return nil, fieldError(kind, "type", "is %q", c.Type)
	}
	if _, err := checkURL(kind, "url", c.URL); err != nil {
		return nil, err
	}
	timeout, err := checkTimeout(kind, c.Timeout)
	if err != nil {
		return nil, err
	}
	return &Slack{http: newHTTPSender(kind, c.URL, timeout, nil)}, nil
}

func (*Slack) Type() string { return "slack" }

// SlackText is the message text: the summary, then one line per listed
// transition of a group.
func SlackText(n Notification) string {
	var b bytes.Buffer
	b.WriteString(n.Summary())
	if len(n.Transitions) > 1 {
		for _, t := range n.Transitions {
			fmt.Fprintf(&b, "\n• %s", t.Agent)
			if t.Check != "" {
				fmt.Fprintf(&b, " (%s)", t.Check)
			}
			fmt.Fprintf(&b, ": %s → %s", t.From, t.To)
			if t.Message != "" {
				b.WriteString(": " + t.Message)
			}
		}
		if more := n.Count - len(n.Transitions); more > 0 {
			fmt.Fprintf(&b, "\n… and %d more", more)
		}
	}
	return b.String()
}

func (s *Slack) Send(ctx context.Context, n Notification) error {
	body, err := json.Marshal(map[string]string{"text": SlackText(n)})
	if err != nil {
		return &SendError{Receiver: "slack", Err: err}
	}
	return s.http.send(ctx, n.Key, body)
}

// maxRangeDepth bounds nested ranges. The output limit stops a template
// that writes too much, but not one that loops without writing: nested
// ranges over 100 transitions, or a range over a large number, could
// spin for hours. Ranges may only walk the notification's own lists
// (.Transitions, .Agents, $.Transitions), at most two deep (10,000
// iterations), and {{define}}/{{template}} (recursion) are refused.
const maxRangeDepth = 2

func checkTemplate(t *template.Template) error {
	if len(t.Templates()) > 1 {
		return errors.New("{{define}} and {{block}} are not allowed")
	}
	if t.Tree == nil {
		return nil
	}
	return checkNode(t.Root, 0)
}

func checkNode(n parse.Node, depth int) error {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := checkNode(c, depth); err != nil {
				return err
			}
		}
	case *parse.TemplateNode:
		return fmt.Errorf("{{template %q}} is not allowed", n.Name)
	case *parse.IfNode:
		return checkBranch(&n.BranchNode, depth)
	case *parse.WithNode:
		return checkBranch(&n.BranchNode, depth)
	case *parse.RangeNode:
		if depth+1 > maxRangeDepth {
			return fmt.Errorf("ranges nested more than %d deep", maxRangeDepth)
		}
		if !rangeOverField(n.Pipe) {
			return fmt.Errorf("range over %s: only fields (.Transitions, .Agents, $.Transitions) can be ranged over", n.Pipe)
		}
		if err := checkNode(n.List, depth+1); err != nil {
			return err
		}
		return checkNode(n.ElseList, depth)
	}
	return nil
}

func checkBranch(b *parse.BranchNode, depth int) error {
	if err := checkNode(b.List, depth); err != nil {
		return err
	}
	return checkNode(b.ElseList, depth)
}

// rangeOverField says whether a range pipeline is a single field
// reference: .X.Y, or $.X / $v.X.
func rangeOverField(p *parse.PipeNode) bool {
	if p == nil || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return false
	}
	switch a := p.Cmds[0].Args[0].(type) {
	case *parse.FieldNode:
		return true
	case *parse.VariableNode:
		return len(a.Ident) >= 2
	}
	return false
}
