package auth

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/vigilmon/vigil/collector/store"
)

func TestHashIsStableAndDistinct(t *testing.T) {
	a, b := Hash("vgl_one"), Hash("vgl_two")
	if a != Hash("vgl_one") {
		t.Fatal("hash of the same token differs")
	}
	if a == b {
		t.Fatal("different tokens hash alike")
	}
	// FIPS 180-2 test vector: SHA-256("abc").
	abc := Hash("abc")
	if got := hex.EncodeToString(abc[:]); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("Hash(abc) = %s", got)
	}
}

func TestValidation(t *testing.T) {
	for _, tt := range []struct {
		fn   func(string) error
		in   string
		good bool
	}{
		{ValidTenant, "dev", true},
		{ValidTenant, "acme-42", true},
		{ValidTenant, "-acme", false},
		{ValidTenant, "Acme", false},
		{ValidTenant, strings.Repeat("a", 65), false},
		{ValidAgentID, "web-1.example.com", true},
		{ValidAgentID, "web 1", false},
		{ValidAgentID, "", false},
		{ValidAgentID, strings.Repeat("a", 129), false},
	} {
		if err := tt.fn(tt.in); (err == nil) != tt.good {
			t.Errorf("%q: got %v, want valid=%v", tt.in, err, tt.good)
		}
	}
	if _, err := ParseRole("writer"); err == nil || !strings.Contains(err.Error(), "read, agent, enroll or admin") {
		t.Fatalf("ParseRole(writer): %v", err)
	}
}

// An agent token speaks for one agent: role agent needs an agent id, and
// only role agent takes one.
func TestAgentBinding(t *testing.T) {
	for _, tt := range []struct {
		role  store.Role
		agent string
		want  string // in the error; "" for none
	}{
		{store.RoleAgent, "web-1", ""},
		{store.RoleAgent, "", "needs the id of the one agent"},
		{store.RoleAgent, "web 1", "agent id"},
		{store.RoleRead, "", ""},
		{store.RoleEnroll, "", ""},
		{store.RoleAdmin, "web-1", "only applies to role agent"},
	} {
		err := AgentBinding(tt.role, tt.agent)
		if (err == nil) != (tt.want == "") || err != nil && !strings.Contains(err.Error(), tt.want) {
			t.Errorf("AgentBinding(%s, %q) = %v, want %q", tt.role, tt.agent, err, tt.want)
		}
	}
	if err := AgentBinding(store.RoleAgent, ""); !errors.Is(err, ErrUnboundAgentToken) {
		t.Errorf("unbound agent token: %v, want ErrUnboundAgentToken", err)
	}
}
