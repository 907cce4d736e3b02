package collector

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vigilmon/vigil/collector/auth"
	"github.com/vigilmon/vigil/collector/store"
)

// DevTenant is the tenant dev mode creates.
const DevTenant = "dev"

// DevOptions are the addresses dev mode writes into the configs.
type DevOptions struct {
	Dir      string // everything goes under it; default ./var
	QUIC     string // default 127.0.0.1:4433
	HTTP     string // default 127.0.0.1:8080
	AgentID  string // default: the hostname
	Interval time.Duration
}

// DevSetup prepares a development environment under opts.Dir: a CA and a
// collector certificate, collector.toml and agent.toml, a read token in
// read-token and an agent token. What already exists is kept, so a second
// run reuses the data of the first.
func DevSetup(ctx context.Context, opts DevOptions, log *slog.Logger) error {
	if opts.Dir == "" {
		opts.Dir = "var"
	}
	if opts.QUIC == "" {
		opts.QUIC = "127.0.0.1:4433"
	}
	if opts.HTTP == "" {
		opts.HTTP = "127.0.0.1:8080"
	}
	if opts.Interval == 0 {
		opts.Interval = 10 * time.Second
	}
	if opts.AgentID == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("read hostname: %w", err)
		}
		opts.AgentID = h
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return err
	}
	tlsDir := filepath.Join(dir, "tls")
	if err := os.MkdirAll(tlsDir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", tlsDir, err)
	}
	if err := devCerts(tlsDir); err != nil {
		return err
	}
	collectorConf := filepath.Join(dir, "collector.toml")
	if err := writeNew(collectorConf, fmt.Sprintf(`# Development collector written by `+"`make run`"+`; delete ./var to start afresh.
name = "dev"
data_dir = %q

[quic]
listen = %q
cert_file = %q
key_file = %q

[http]
listen = %q
`, filepath.Join(dir, "collector"), opts.QUIC, filepath.Join(tlsDir, "collector.pem"), filepath.Join(tlsDir, "collector-key.pem"), opts.HTTP)); err != nil {
		return err
	}
	cfg, err := LoadConfig(collectorConf)
	if err != nil {
		return err
	}
	st, err := OpenStore(cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	_, err = devToken(ctx, st, filepath.Join(dir, "read-token"), store.RoleRead, "")
	if err != nil {
		return err
	}
	agentTokFile := filepath.Join(dir, "agent-token")
	if _, err := devToken(ctx, st, agentTokFile, store.RoleAgent, opts.AgentID); err != nil {
		return err
	}
	return writeNew(filepath.Join(dir, "agent.toml"), fmt.Sprintf(`# Development agent written by `+"`make run`"+`.
[agent]
id = %q
token_file = %q
interval = %q
state_dir = %q

[transport]
collectors = [%q]
ca_file = %q
`, opts.AgentID, agentTokFile, opts.Interval.String(), filepath.Join(dir, "agent"), opts.QUIC, filepath.Join(tlsDir, "ca.pem")))
}

// devToken reuses the token in file if the store still knows it, and
// otherwise creates one and writes it there.
func devToken(ctx context.Context, st store.Store, file string, role store.Role, agent string) (string, error) {
	if b, err := os.ReadFile(file); err == nil {
		tok := strings.TrimSpace(string(b))
		// A token from before agent tokens were bound to an agent is
		// replaced: the collector refuses it.
		if t, err := auth.Authenticate(ctx, st, tok); err == nil && t.Role == role && t.Agent == agent {
			return tok, nil
		}
	}
	tok, _, err := auth.Create(ctx, st, DevTenant, role, agent)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(file, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", file, err)
	}
	return tok, nil
}

func writeNew(path, content string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// devCerts creates a CA and a certificate for 127.0.0.1, ::1 and localhost
// signed by it, unless they exist.
func devCerts(dir string) error {
	caFile, caKeyFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
	certFile, keyFile := filepath.Join(dir, "collector.pem"), filepath.Join(dir, "collector-key.pem")
	if _, err := os.Stat(certFile); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "Vigil development CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("create dev CA: %w", err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "vigil-collector (development)"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("create dev collector certificate: %w", err)
	}
	for _, f := range []struct {
		path, typ string
		der       []byte
	}{
		{caFile, "CERTIFICATE", caDER},
		{caKeyFile, "EC PRIVATE KEY", mustMarshalKey(caKey)},
		{certFile, "CERTIFICATE", der},
		{keyFile, "EC PRIVATE KEY", mustMarshalKey(key)},
	} {
		if err := os.WriteFile(f.path, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), 0o600); err != nil {
			return fmt.Errorf("write %s: %w", f.path, err)
		}
	}
	return nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

func mustMarshalKey(k *ecdsa.PrivateKey) []byte {
	b, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		panic(err) // a freshly generated P-256 key always marshals
	}
	return b
}
