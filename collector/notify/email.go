package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"os"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// EmailConfig configures e-mail over SMTP.
type EmailConfig struct {
	Type string `json:"type,omitempty"` // "email" in a parsed config
	// Addr (required) is the SMTP server's host:port (587 for submission
	// with STARTTLS, 465 for implicit TLS, 25 for a local relay).
	Addr string `json:"addr"`
	// From (required) and To (1 to 100 addresses) as RFC 5322 addresses
	// ("Ops <ops@example.com>" or "ops@example.com").
	From string   `json:"from"`
	To   []string `json:"to"`
	// Username and Password, when set, log in with AUTH PLAIN, which is
	// only done over TLS (or to localhost).
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// TLS is "starttls" (default: STARTTLS when the server offers it),
	// "require-starttls" (refuse a server that does not offer it) or
	// "tls" (implicit TLS from the first byte, port 465).
	TLS string `json:"tls,omitempty"`
	// ServerName is the name the server's certificate must carry
	// (default: Addr's host). CAFile is a PEM bundle of roots to trust
	// instead of the system's.
	ServerName string `json:"server_name,omitempty"`
	CAFile     string `json:"ca_file,omitempty"`
	// Hello is the name sent in EHLO (default "localhost").
	Hello string `json:"hello,omitempty"`
	// MaxMessageBytes bounds the message (default 256 KiB, at most
	// 10 MiB); a longer body is cut and marked "[truncated]".
	MaxMessageBytes int `json:"max_message_bytes,omitempty"`
	// Timeout bounds one attempt, connection to QUIT (default 10s, at
	// most 2m).
	Timeout Duration `json:"timeout,omitempty"`
}

const (
	defaultMaxMessage = 256 << 10
	maxMaxMessage     = 10 << 20
	maxRecipients     = 100
)

// Email is the SMTP receiver.
type Email struct {
	addr, host string
	from       *mail.Address
	to         []*mail.Address
	user, pass string
	mode       string
	tls        *tls.Config
	hello      string
	maxMsg     int
	timeout    time.Duration
}

// NewEmail validates c and builds the receiver.
func NewEmail(c EmailConfig) (*Email, error) {
	const kind = "email"
	if c.Type != "" && c.Type != kind {
		return nil, fieldError(kind, "type", "is %q", c.Type)
	}
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil || host == "" || port == "" {
		return nil, fieldError(kind, "addr", "%q is not host:port", c.Addr)
	}
	e := &Email{addr: c.Addr, host: host, user: c.Username, pass: c.Password, hello: c.Hello, maxMsg: c.MaxMessageBytes}
	if e.from, err = parseAddr(c.From); err != nil {
		return nil, fieldError(kind, "from", "%v", err)
	}
	if len(c.To) == 0 || len(c.To) > maxRecipients {
		return nil, fieldError(kind, "to", "has %d addresses, want 1 to %d", len(c.To), maxRecipients)
	}
	for i, s := range c.To {
		a, err := parseAddr(s)
		if err != nil {
			return nil, fieldError(kind, fmt.Sprintf("to[%d]", i), "%v", err)
		}
		e.to = append(e.to, a)
	}
	if c.Password != "" && c.Username == "" {
		return nil, fieldError(kind, "username", "is required with a password")
	}
	switch c.TLS {
	case "":
		e.mode = "starttls"
	case "starttls", "require-starttls", "tls":
		e.mode = c.TLS
	default:
		return nil, fieldError(kind, "tls", "%q is not starttls, require-starttls or tls", c.TLS)
	}
	e.tls = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if c.ServerName != "" {
		e.tls.ServerName = c.ServerName
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fieldError(kind, "ca_file", "%v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fieldError(kind, "ca_file", "%s holds no PEM certificate", c.CAFile)
		}
		e.tls.RootCAs = pool
	}
	if e.hello == "" {
		e.hello = "localhost"
	} else if strings.ContainsAny(e.hello, " \r\n\t") {
		return nil, fieldError(kind, "hello", "%q contains white space", e.hello)
	}
	switch {
	case e.maxMsg == 0:
		e.maxMsg = defaultMaxMessage
	case e.maxMsg < 4096 || e.maxMsg > maxMaxMessage:
		return nil, fieldError(kind, "max_message_bytes", "%d is outside [4096, %d]", e.maxMsg, maxMaxMessage)
	}
	if e.timeout, err = checkTimeout(kind, c.Timeout); err != nil {
		return nil, err
	}
	return e, nil
}

func parseAddr(s string) (*mail.Address, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("contains CR or LF")
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", s, err)
	}
	return a, nil
}

func (*Email) Type() string { return "email" }

// oneLine makes text safe for a header: control characters (CR and LF
// above all, which would inject headers) become spaces, and the length
// is bounded.
func oneLine(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}

// Message builds the RFC 5322 message for n, sent at now: a plain-text,
// quoted-printable body, and a Message-ID derived from n.Key, so a
// retried send is recognisably the same message.
func (e *Email) Message(n Notification, now time.Time) []byte {
	var hdr bytes.Buffer
	domain := "vigil.invalid"
	if i := strings.LastIndexByte(e.from.Address, '@'); i >= 0 && i+1 < len(e.from.Address) {
		domain = e.from.Address[i+1:]
	}
	to := make([]string, len(e.to))
	for i, a := range e.to {
		to[i] = a.String()
	}
	fmt.Fprintf(&hdr, "From: %s\r\n", e.from.String())
	// One address per line: 100 recipients on one line would pass the
	// 998-byte limit of RFC 5322.
	fmt.Fprintf(&hdr, "To: %s\r\n", strings.Join(to, ",\r\n "))
	fmt.Fprintf(&hdr, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", "[Vigil] "+oneLine(n.Summary(), 200)))
	fmt.Fprintf(&hdr, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&hdr, "Message-ID: <%s@%s>\r\n", n.Key, domain)
	fmt.Fprintf(&hdr, "X-Vigil-Idempotency-Key: %s\r\n", n.Key)
	fmt.Fprintf(&hdr, "X-Vigil-Alarm: %s\r\n", mime.QEncoding.Encode("utf-8", oneLine(n.AlarmID, 200)))
	fmt.Fprintf(&hdr, "X-Vigil-State: %s\r\n", n.State)
	hdr.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")

	var text strings.Builder
	text.WriteString(n.Summary() + "\n\n")
	fmt.Fprintf(&text, "Tenant: %s\nAlarm: %s (%s)\nState: %s\n\n", n.Tenant, n.AlarmName, n.AlarmID, n.State)
	for _, t := range n.Transitions {
		fmt.Fprintf(&text, "%s  %s", t.At.UTC().Format(time.RFC3339), t.Agent)
		if t.Check != "" {
			fmt.Fprintf(&text, " (%s)", t.Check)
		}
		fmt.Fprintf(&text, ": %s -> %s", t.From, t.To)
		if t.Message != "" {
			text.WriteString(": " + t.Message)
		}
		text.WriteString("\n")
	}
	if more := n.Count - len(n.Transitions); more > 0 {
		fmt.Fprintf(&text, "... and %d more\n", more)
	}
	fmt.Fprintf(&text, "\nIdempotency key: %s\n", n.Key)

	// Quoted-printable at most triples a byte; cut the text so the whole
	// message fits, rather than refuse to tell anyone.
	body := text.String()
	room := (e.maxMsg - hdr.Len()) / 3
	if len(body) > room {
		cut := max(room-len("\n[truncated]\n"), 0)
		for cut > 0 && !utf8.RuneStart(body[cut]) {
			cut--
		}
		body = body[:cut] + "\n[truncated]\n"
	}
	var qp bytes.Buffer
	w := quotedprintable.NewWriter(&qp)
	_, _ = w.Write([]byte(strings.ReplaceAll(body, "\n", "\r\n")))
	_ = w.Close()
	hdr.Write(qp.Bytes())
	return hdr.Bytes()
}

// Send delivers the message: EHLO, STARTTLS (per TLS), AUTH PLAIN when a
// username is set, MAIL, RCPT for each address, DATA, QUIT. SMTP 4xx
// replies and network errors are retryable, 5xx replies, refused TLS and
// certificate errors permanent.
func (e *Email) Send(ctx context.Context, n Notification) (err error) {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	defer func() {
		if err != nil {
			err = classifySMTP(ctx, err)
		}
	}()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", e.addr)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	// net/smtp has no context: a deadline on the connection bounds every
	// step, and cancellation cuts it short.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if e.mode == "tls" {
		conn = tls.Client(conn, e.tls)
	}
	c, err := smtp.NewClient(conn, e.host)
	if err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	defer c.Close()
	if err := c.Hello(e.hello); err != nil {
		return fmt.Errorf("EHLO: %w", err)
	}
	secure := e.mode == "tls"
	if e.mode != "tls" {
		if ok, _ := c.Extension("STARTTLS"); ok {
			secure = true
			if err := c.StartTLS(e.tls); err != nil {
				return fmt.Errorf("STARTTLS: %w", err)
			}
		} else if e.mode == "require-starttls" {
			return permanent(errors.New("server does not offer STARTTLS and tls is require-starttls"))
		}
	}
	if e.user != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return permanent(errors.New("server does not offer AUTH and a username is set"))
		}
		// As net/smtp's PlainAuth: the password goes in clear only to
		// localhost. Said here so the error is permanent, not retried.
		if !secure && e.host != "localhost" && e.host != "127.0.0.1" && e.host != "::1" {
			return permanent(errors.New("server offers no STARTTLS: refusing to send the password unencrypted"))
		}
		if err := c.Auth(smtp.PlainAuth("", e.user, e.pass, e.host)); err != nil {
			return fmt.Errorf("AUTH PLAIN: %w", err)
		}
	}
	if err := c.Mail(e.from.Address); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	for _, a := range e.to {
		if err := c.Rcpt(a.Address); err != nil {
			return fmt.Errorf("RCPT TO %s: %w", a.Address, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(e.Message(n, time.Now())); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("end of DATA: %w", err)
	}
	// The message is accepted once DATA's reply came back: a failed QUIT
	// must not make the Deliverer send it again.
	_ = c.Quit()
	return nil
}

type permanentError struct{ error }

func (p permanentError) Unwrap() error { return p.error }

func permanent(err error) error { return permanentError{err} }

// classifySMTP turns an SMTP client error into a *SendError.
func classifySMTP(ctx context.Context, err error) error {
	se := &SendError{Receiver: "email", Err: err}
	var tpe *textproto.Error
	var pe permanentError
	var cve *tls.CertificateVerificationError
	var hne x509.HostnameError
	var uae x509.UnknownAuthorityError
	switch {
	case errors.As(err, &tpe):
		se.Status = tpe.Code
		se.Retryable = tpe.Code >= 400 && tpe.Code < 500
		if len(tpe.Msg) > maxErrorBody {
			se.Err = fmt.Errorf("%d %s (cut at %d bytes)", tpe.Code, tpe.Msg[:maxErrorBody], maxErrorBody)
		}
	case errors.As(err, &pe), errors.As(err, &cve), errors.As(err, &hne), errors.As(err, &uae):
		se.Retryable = false
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		se.Retryable = false
	default:
		// Network errors and timeouts.
		se.Retryable = true
	}
	return se
}
