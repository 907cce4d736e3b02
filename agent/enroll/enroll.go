// Package enroll is `vigil-agent setup`: it trades a collector's enroll
// token for this agent's own id and agent token (POST /v1/enroll, DESIGN
// §7) and writes them into the agent's config, so a fleet can be enrolled
// by a config-management tool with one shared enroll token.
//
// The token goes into its own file (token_file, mode 0600) next to the
// config; the config gets agent.id, agent.token_file, transport.collectors,
// transport.https and, if given, transport.ca_file. An existing config
// keeps everything else, comments included: only those keys' lines are
// rewritten (and an agent.token line removed, since it would win over
// token_file). Without a config, the commented sample is the starting
// point. Both files are replaced atomically with mode 0600.
package enroll

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/pelletier/go-toml/v2"

	"github.com/vigilmon/vigil/agent/config"
	"github.com/vigilmon/vigil/agent/transport"
)

const (
	// DefaultConfig is where the agent's config lives.
	DefaultConfig = "/etc/vigil/agent.toml"
	// DefaultQUICPort is the collector's QUIC port when none is given.
	DefaultQUICPort = "4433"
	// TokenFileName is the token file's name, next to the config.
	TokenFileName = "agent-token"

	maxAnswer = 64 << 10
)

var agentIDRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

// Options say whom to ask and where to write.
type Options struct {
	// Collector is the collector's API: https://HOST:PORT (http:// only on
	// a loopback address). It becomes transport.https, the fallback.
	Collector string
	// EnrollToken is a token with role enroll.
	EnrollToken string
	// AgentID is the id to enroll; empty: the collector uses Hostname.
	AgentID string
	// Hostname is sent to the collector; empty: this machine's hostname.
	Hostname string
	// CAFile verifies the collector; empty: the system roots. It becomes
	// transport.ca_file.
	CAFile string
	// ConfigPath is the agent config to write (default DefaultConfig).
	ConfigPath string
	// QUIC lists the collectors' QUIC addresses, preferred first; default:
	// the host of Collector on DefaultQUICPort.
	QUIC []string
	// Log receives go-retryablehttp's messages at debug level; nil: none.
	Log *slog.Logger
}

// Result is what Run enrolled and wrote.
type Result struct {
	AgentID, Tenant       string
	ConfigPath, TokenFile string
	Collectors            []string
	HTTPS                 string
	// Created is true when there was no config file before.
	Created bool
}

// Run enrolls the agent and writes its config. Nothing is written unless
// the collector answered with a token; a config that cannot be updated is
// found before the collector is asked.
func Run(ctx context.Context, o Options) (*Result, error) {
	u, err := transport.ParseCollectorURL(strings.TrimSuffix(o.Collector, "/"))
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(o.EnrollToken) == "" {
		return nil, errors.New("no enroll token: create one with `vigil-collector token create --tenant TENANT --role enroll`")
	}
	if o.AgentID != "" && !agentIDRe.MatchString(o.AgentID) {
		return nil, fmt.Errorf("agent id %q: must be 1-128 characters of A-Z a-z 0-9 . _ -", o.AgentID)
	}
	if o.Hostname == "" {
		if o.Hostname, err = os.Hostname(); err != nil {
			return nil, fmt.Errorf("read hostname: %w", err)
		}
	}
	if o.ConfigPath == "" {
		o.ConfigPath = DefaultConfig
	}
	if len(o.QUIC) == 0 {
		o.QUIC = []string{net.JoinHostPort(u.Hostname(), DefaultQUICPort)}
	}
	for _, a := range o.QUIC {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return nil, fmt.Errorf("QUIC address %q: want host:port: %w", a, err)
		}
	}
	if o.CAFile != "" {
		if o.CAFile, err = filepath.Abs(o.CAFile); err != nil {
			return nil, err
		}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	res := &Result{Collectors: o.QUIC, HTTPS: u.String()}
	if res.ConfigPath, err = configTarget(o.ConfigPath); err != nil {
		return nil, err
	}
	res.TokenFile = filepath.Join(filepath.Dir(res.ConfigPath), TokenFileName)
	base, err := os.ReadFile(res.ConfigPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		base, res.Created = []byte(config.SampleConfig()), true
	case err != nil:
		return nil, fmt.Errorf("read config: %w", err)
	}
	// Find out now, before a token is minted, whether the config can be
	// updated.
	predicted := o.AgentID
	if predicted == "" {
		predicted = o.Hostname
	}
	if _, err := update(base, o, res, predicted); err != nil {
		return nil, err
	}

	client, err := transport.NewRetryableClient(u, transport.TLSConfig{CAFile: o.CAFile}, o.Log)
	if err != nil {
		return nil, err
	}
	defer client.HTTPClient.CloseIdleConnections()
	ans, err := exchange(ctx, client, transport.Endpoint(u, "/v1/enroll"), o)
	if err != nil {
		return nil, err
	}
	res.AgentID, res.Tenant = ans.AgentID, ans.Tenant

	doc, err := update(base, o, res, ans.AgentID)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(res.ConfigPath), 0o755); err != nil {
		return nil, fmt.Errorf("create config directory: %w", err)
	}
	if err := writeAtomic(res.TokenFile, []byte(ans.Token+"\n"), res.ConfigPath); err != nil {
		return nil, err
	}
	// The agent must be able to start with what is written.
	if _, err := config.Parse(doc); err != nil {
		return nil, fmt.Errorf("enrolled as %s (token in %s), but the updated config would not load, so %s was left as it was: %w",
			ans.AgentID, res.TokenFile, res.ConfigPath, err)
	}
	if err := writeAtomic(res.ConfigPath, doc, res.ConfigPath); err != nil {
		return nil, fmt.Errorf("enrolled as %s (token in %s), but: %w", ans.AgentID, res.TokenFile, err)
	}
	return res, nil
}

type answer struct {
	AgentID string `json:"agent_id"`
	Token   string `json:"token"`
	Tenant  string `json:"tenant"`
}

// exchange posts the enrollment and checks the answer.
func exchange(ctx context.Context, client *retryablehttp.Client, url string, o Options) (*answer, error) {
	body, err := json.Marshal(map[string]string{"agent_id": o.AgentID, "hostname": o.Hostname})
	if err != nil {
		return nil, err
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, url, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(o.EnrollToken))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if resp != nil {
		defer resp.Body.Close()
	}
	if resp == nil {
		return nil, fmt.Errorf("enroll at %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("enroll at %s: %w", url, transport.ReadHTTPError(resp))
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("enroll at %s: read answer: %w", url, err)
	}
	var a answer
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("enroll at %s: the answer is not the expected JSON (is this a Vigil collector?): %w", url, err)
	}
	if !agentIDRe.MatchString(a.AgentID) || !strings.HasPrefix(a.Token, "vgl_") || len(a.Token) > 128 ||
		strings.ContainsFunc(a.Token, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return nil, fmt.Errorf("enroll at %s: the answer lacks a valid agent id and token", url)
	}
	if o.AgentID != "" && a.AgentID != o.AgentID {
		return nil, fmt.Errorf("enroll at %s: asked for agent id %q, got %q", url, o.AgentID, a.AgentID)
	}
	return &a, nil
}

// update returns base with the enrolled settings, checked by decoding.
func update(base []byte, o Options, res *Result, agentID string) ([]byte, error) {
	sets := []setting{
		{"agent", "id", strconv.Quote(agentID)},
		{"agent", "token_file", strconv.Quote(res.TokenFile)},
		{"agent", "token", ""},
		{"transport", "collectors", quoteList(res.Collectors)},
		{"transport", "https", strconv.Quote(res.HTTPS)},
	}
	if o.CAFile != "" {
		sets = append(sets, setting{"transport", "ca_file", strconv.Quote(o.CAFile)})
	}
	doc := []byte(edit(string(base), sets))

	var got struct {
		Agent     map[string]any `toml:"agent"`
		Transport map[string]any `toml:"transport"`
	}
	err := toml.Unmarshal(doc, &got)
	ok := err == nil && got.Agent["id"] == agentID && got.Agent["token_file"] == res.TokenFile &&
		got.Agent["token"] == nil && got.Transport["https"] == res.HTTPS &&
		(o.CAFile == "" || got.Transport["ca_file"] == o.CAFile)
	if ok {
		list, _ := got.Transport["collectors"].([]any)
		ok = slices.EqualFunc(list, res.Collectors, func(a any, b string) bool { return a == b })
	}
	if !ok {
		if err == nil {
			err = errors.New("its layout is beyond this tool")
		}
		return nil, fmt.Errorf("cannot update %s (%v); set these by hand and run the agent:\n%s",
			res.ConfigPath, err, describe(sets))
	}
	return doc, nil
}

func describe(sets []setting) string {
	var b strings.Builder
	for _, s := range sets {
		if s.key == "token" {
			fmt.Fprintf(&b, "  [%s] remove %s\n", s.table, s.key)
		} else {
			fmt.Fprintf(&b, "  [%s] %s = %s\n", s.table, s.key, s.value)
		}
	}
	return b.String()
}

func quoteList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = strconv.Quote(x)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// configTarget is the absolute path to write the config to; a symlink is
// followed, so the file it points to is the one updated.
func configTarget(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real, nil
	}
	return abs, nil
}

// writeAtomic replaces path with data, mode 0600 (0640 with ref's group
// when ref is group-readable, as the packaged config is), so a reader sees
// the old file or the new one and a crash leaves no half-written secret.
func writeAtomic(path string, data []byte, ref string) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := matchOwner(f, ref); err != nil {
		return fmt.Errorf("write %s: set group like %s: %w", path, ref, err)
	}
	if _, err := io.Copy(f, bytes.NewReader(data)); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		// Best effort: it makes the rename durable where directories can
		// be synced (not on Windows); the file is in place either way.
		_ = d.Sync()
		d.Close()
	}
	return nil
}
