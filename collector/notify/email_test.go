package notify

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/vigilmon/vigil/collector/alarm"
)

// selfSigned makes a certificate for 127.0.0.1 and localhost, and writes
// it as a PEM file the client can trust.
func selfSigned(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "vigil test smtp"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, ca
}

// mailbox is a real SMTP server (go-smtp) that requires AUTH PLAIN, which
// it only allows over TLS, and keeps what it receives.
type mailbox struct {
	mu       sync.Mutex
	messages []received
	// rejectRcpt answers RCPT with this error when set.
	rejectRcpt *smtp.SMTPError
}

type received struct {
	user, from string
	to         []string
	tls        bool
	data       []byte
}

type mailSession struct {
	box  *mailbox
	conn *smtp.Conn
	cur  received
}

func (b *mailbox) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &mailSession{box: b, conn: c}, nil
}

func (s *mailSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *mailSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != "vigil" || password != "pa55word" {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		s.cur.user = username
		return nil
	}), nil
}

func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.cur.user == "" {
		return smtp.ErrAuthRequired
	}
	s.cur.from = from
	return nil
}

func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.box.mu.Lock()
	rej := s.box.rejectRcpt
	s.box.mu.Unlock()
	if rej != nil {
		return rej
	}
	s.cur.to = append(s.cur.to, to)
	return nil
}

func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, s.cur.tls = s.conn.TLSConnectionState()
	s.box.mu.Lock()
	s.box.messages = append(s.box.messages, received{user: s.cur.user, from: s.cur.from, to: s.cur.to, tls: s.cur.tls, data: b})
	s.box.mu.Unlock()
	return nil
}

func (s *mailSession) Reset()        { s.cur = received{user: s.cur.user} }
func (s *mailSession) Logout() error { return nil }

// startSMTP serves a mailbox on 127.0.0.1; with cert nil it offers no
// STARTTLS.
func startSMTP(t *testing.T, cert *tls.Certificate) (*mailbox, string) {
	t.Helper()
	box := &mailbox{}
	s := smtp.NewServer(box)
	s.Domain = "mx.test"
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	s.MaxMessageBytes = 1 << 20
	s.AllowInsecureAuth = false
	s.ErrorLog = log.New(io.Discard, "", 0)
	if cert != nil {
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*cert}}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = s.Serve(l); close(done) }()
	t.Cleanup(func() { _ = s.Close(); <-done })
	return box, l.Addr().String()
}

func TestEmailSTARTTLSAuth(t *testing.T) {
	cert, ca := selfSigned(t)
	box, addr := startSMTP(t, &cert)
	e, err := NewEmail(EmailConfig{Addr: addr, From: "Vigil <vigil@example.com>", To: []string{"ops@example.com", "Oncall <oncall@example.org>"},
		Username: "vigil", Password: "pa55word", CAFile: ca, TLS: "require-starttls"})
	if err != nil {
		t.Fatal(err)
	}
	n := NewNotification("acme", "al1", "disk full ☠", tr("web1", alarm.StateOK, alarm.StateCritical, t0, "95% full\r\nBcc: evil@example.net"))
	if err := e.Send(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	box.mu.Lock()
	msgs := box.messages
	box.mu.Unlock()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	m := msgs[0]
	if !m.tls || m.user != "vigil" || m.from != "vigil@example.com" || strings.Join(m.to, ",") != "ops@example.com,oncall@example.org" {
		t.Errorf("envelope: tls %v user %q from %q to %v", m.tls, m.user, m.from, m.to)
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(m.data)))
	if err != nil {
		t.Fatalf("parse message: %v\n%s", err, m.data)
	}
	h := msg.Header
	subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"From":                    `"Vigil" <vigil@example.com>`,
		"To":                      `<ops@example.com>, "Oncall" <oncall@example.org>`,
		"Message-ID":              "<" + n.Key + "@example.com>",
		"X-Vigil-Idempotency-Key": n.Key,
		"X-Vigil-State":           "CRITICAL",
		"Content-Type":            "text/plain; charset=utf-8",
		"Bcc":                     "",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if want := "[Vigil] disk full ☠: CRITICAL on web1 (disk): 95% full  Bcc: evil@example.net"; subject != want {
		t.Errorf("Subject = %q, want %q", subject, want)
	}
	if d, err := h.Date(); err != nil || time.Since(d) > time.Minute {
		t.Errorf("Date %v, %v", d, err)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Tenant: acme\r\n", "2026-12-06T02:00:00Z  web1 (disk): OK -> CRITICAL: 95% full", "Idempotency key: " + n.Key} {
		if !strings.Contains(string(body), want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
}

func TestEmailErrors(t *testing.T) {
	cert, ca := selfSigned(t)
	ctx := context.Background()
	n := critical()
	cfg := func(addr string) EmailConfig {
		return EmailConfig{Addr: addr, From: "vigil@example.com", To: []string{"ops@example.com"},
			Username: "vigil", Password: "pa55word", CAFile: ca, Timeout: Duration(5 * time.Second)}
	}
	check := func(name string, c EmailConfig, retryable bool, code int, contains string) {
		t.Helper()
		e, err := NewEmail(c)
		if err != nil {
			t.Fatal(err)
		}
		err = e.Send(ctx, n)
		var se *SendError
		if !errors.As(err, &se) || se.Retryable != retryable || se.Status != code || !strings.Contains(err.Error(), contains) {
			t.Errorf("%s: err %v, want retryable %v code %d containing %q", name, err, retryable, code, contains)
		}
	}

	_, addr := startSMTP(t, &cert)
	bad := cfg(addr)
	bad.Password = "wrong"
	check("bad password", bad, false, 535, "AUTH PLAIN")

	// Without STARTTLS: require-starttls refuses, and the password is not
	// sent in clear to a non-localhost name.
	_, plainAddr := startSMTP(t, nil)
	c := cfg(plainAddr)
	c.TLS = "require-starttls"
	check("no STARTTLS, required", c, false, 0, "does not offer STARTTLS")

	// The certificate must name the server.
	wrongName := cfg(addr)
	wrongName.ServerName = "mail.example.com"
	check("wrong server name", wrongName, false, 0, "STARTTLS")

	// Untrusted certificate.
	untrusted := cfg(addr)
	untrusted.CAFile = ""
	check("untrusted", untrusted, false, 0, "STARTTLS")

	// 4xx from the server is retryable, 5xx permanent.
	box, addr2 := startSMTP(t, &cert)
	box.rejectRcpt = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "mailbox full"}
	check("452", cfg(addr2), true, 452, "RCPT TO ops@example.com")
	box.mu.Lock()
	box.rejectRcpt = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	box.mu.Unlock()
	check("550", cfg(addr2), false, 550, "no such user")

	// Nobody listening: retryable.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := l.Addr().String()
	l.Close()
	check("connection refused", cfg(closed), true, 0, "connect")
}

func TestEmailMessageBounded(t *testing.T) {
	e, err := NewEmail(EmailConfig{Addr: "smtp.example.com:587", From: "vigil@example.com", To: []string{"ops@example.com"}, MaxMessageBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	var g Grouper
	for i := range MaxListed {
		g.Add("acme", "al1", "disk", tr(strings.Repeat("é", 20)+string(rune('a'+i%26)), alarm.StateOK, alarm.StateCritical, t0.Add(time.Duration(i)), strings.Repeat("long message ", 10)), t0)
	}
	msg := e.Message(g.FlushAll()[0], t0)
	if len(msg) > 4096 {
		t.Errorf("message is %d bytes, over 4096", len(msg))
	}
	m, err := mail.ReadMessage(strings.NewReader(string(msg)))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(m.Body))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(body), "\r\n[truncated]\r\n") || !strings.Contains(string(body), "100 agents CRITICAL") {
		t.Errorf("body:\n%s", body)
	}
}
