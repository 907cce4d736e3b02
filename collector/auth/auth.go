// Package auth creates and checks the collector's bearer tokens. Tokens are
// random, shown once, and stored only as SHA-256 hashes.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/vigilmon/vigil/collector/store"
)

// prefix marks Vigil tokens so secret scanners and people recognise them.
const prefix = "vgl_"

var (
	// ErrInvalidToken means the token is unknown, malformed or revoked.
	// Callers do not learn which, so a guesser learns nothing.
	ErrInvalidToken = errors.New("invalid or revoked token")
	// ErrForbidden means the token is valid but its role may not do this.
	ErrForbidden = errors.New("token role not allowed")

	tenantRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)
	agentRe  = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)
)

// ValidTenant checks a tenant name against DESIGN §3.
func ValidTenant(t string) error {
	if !tenantRe.MatchString(t) {
		return fmt.Errorf("tenant %q: must match [a-z0-9][a-z0-9-]{0,63}", t)
	}
	return nil
}

// ValidAgentID checks an agent id against DESIGN §3.
func ValidAgentID(id string) error {
	if !agentRe.MatchString(id) {
		return fmt.Errorf("agent id %q: must be 1-128 characters of A-Z a-z 0-9 . _ -", id)
	}
	return nil
}

// ParseRole accepts the four roles of DESIGN §7.
func ParseRole(s string) (store.Role, error) {
	switch r := store.Role(s); r {
	case store.RoleAgent, store.RoleEnroll, store.RoleRead, store.RoleAdmin:
		return r, nil
	}
	return "", fmt.Errorf("role %q: want read, agent, enroll or admin", s)
}

// ErrUnboundAgentToken is returned for an agent token without an agent id.
var ErrUnboundAgentToken = errors.New("a token with role agent needs the id of the one agent it may send for")

// AgentBinding checks that a token of role is bound to an agent exactly
// when it has role agent: an agent token speaks for one agent, so one
// leaked or shared token cannot write for, or overwrite the inventory
// record of, every agent of its tenant. Fleets get one token per agent by
// enrollment (role enroll).
func AgentBinding(role store.Role, agent string) error {
	if role == store.RoleAgent && agent == "" {
		return fmt.Errorf("%w (--agent ID); for a fleet, give the agents an enroll token and let each enroll for its own", ErrUnboundAgentToken)
	}
	if agent == "" {
		return nil
	}
	if err := ValidAgentID(agent); err != nil {
		return err
	}
	if role != store.RoleAgent {
		return fmt.Errorf("an agent id only applies to role agent, not %s", role)
	}
	return nil
}

// Hash returns the stored form of a token.
func Hash(token string) store.TokenHash { return sha256.Sum256([]byte(token)) }

// Create makes a new token, stores its hash, and returns the token, which
// is never stored or shown again.
func Create(ctx context.Context, s store.TokenStore, tenant string, role store.Role, agent string) (string, store.Token, error) {
	if err := ValidTenant(tenant); err != nil {
		return "", store.Token{}, err
	}
	if err := AgentBinding(role, agent); err != nil {
		return "", store.Token{}, err
	}
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return "", store.Token{}, fmt.Errorf("generate token: %w", err)
	}
	token := prefix + base64.RawURLEncoding.EncodeToString(secret[:])
	h := Hash(token)
	t := store.Token{
		Hash:    h,
		ID:      hex.EncodeToString(h[:6]),
		Tenant:  tenant,
		Role:    role,
		Agent:   agent,
		Created: time.Now().UTC(),
	}
	if err := s.PutToken(ctx, t); err != nil {
		return "", store.Token{}, fmt.Errorf("store token: %w", err)
	}
	return token, t, nil
}

// Authenticate returns the stored token for a presented one. The lookup is
// by hash, so the comparison never touches the secret itself.
func Authenticate(ctx context.Context, s store.TokenStore, token string) (store.Token, error) {
	token = strings.TrimSpace(token)
	if !strings.HasPrefix(token, prefix) || len(token) > 128 {
		return store.Token{}, ErrInvalidToken
	}
	return ByHash(ctx, s, Hash(token))
}

// ByHash is Authenticate for a token known by its hash: one authenticated
// before, checked again so that its revocation takes effect (a connected
// agent's next batch).
func ByHash(ctx context.Context, s store.TokenStore, h store.TokenHash) (store.Token, error) {
	t, err := s.TokenByHash(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return store.Token{}, ErrInvalidToken
	}
	if err != nil {
		return store.Token{}, fmt.Errorf("look up token: %w", err)
	}
	if !t.Revoked.IsZero() {
		return store.Token{}, ErrInvalidToken
	}
	return t, nil
}

// List returns the tokens of tenant, revoked ones included, ordered by ID.
func List(ctx context.Context, s store.TokenStore, tenant string) ([]store.Token, error) {
	if err := ValidTenant(tenant); err != nil {
		return nil, err
	}
	ts, err := s.Tokens(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return ts, nil
}

// Revoke marks the token id of tenant revoked at now; every request,
// connection and agent batch authenticated after it returns is refused.
// A token of another tenant is as unknown as one that does not exist:
// both return an error wrapping store.ErrNotFound. Revoking a revoked
// token keeps its first revocation time.
func Revoke(ctx context.Context, s store.TokenStore, tenant, id string, now time.Time) (store.Token, error) {
	ts, err := List(ctx, s, tenant)
	if err != nil {
		return store.Token{}, err
	}
	for _, t := range ts {
		if t.ID != id {
			continue
		}
		if !t.Revoked.IsZero() {
			return t, nil
		}
		t.Revoked = now.UTC()
		if err := s.PutToken(ctx, t); err != nil {
			return store.Token{}, fmt.Errorf("revoke token %s: %w", id, err)
		}
		return t, nil
	}
	return store.Token{}, fmt.Errorf("token %q of tenant %s: %w", id, tenant, store.ErrNotFound)
}
