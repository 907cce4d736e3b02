package collector

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRulesConfig(t *testing.T) {
	c, err := ParseConfig([]byte("name = \"c1\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Rules.On() || len(c.RuleFiles()) != 0 {
		t.Errorf("[rules] defaults: %+v", c.Rules)
	}
	doc := "name = \"c1\"\n[rules]\n[[rules.tenant]]\nname = \"acme\"\nfiles = [\"/etc/vigil/rules/acme/*.yml\", \"/etc/vigil/rules/common.yml\"]\n[[rules.tenant]]\nname = \"beta\"\nfiles = [\"/etc/vigil/rules/common.yml\"]\n"
	c, err = ParseConfig([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	tf := c.RuleFiles()
	if len(tf) != 2 || tf[0].Tenant != "acme" || len(tf[0].Globs) != 2 || tf[1].Tenant != "beta" || tf[1].Globs[0] != "/etc/vigil/rules/common.yml" {
		t.Errorf("RuleFiles %+v", tf)
	}
	c, err = ParseConfig([]byte(strings.Replace(doc, "[rules]\n", "[rules]\nenabled = false\n", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if c.Rules.On() || c.RuleFiles() != nil {
		t.Errorf("enabled = false still loads %+v", c.RuleFiles())
	}
	for doc, want := range map[string]string{
		"[[rules.tenant]]\nfiles = [\"a.yml\"]":                                                            "rules.tenant[0]: name is required",
		"[[rules.tenant]]\nname = \"a\"":                                                                   "rules.tenant \"a\": files is empty",
		"[[rules.tenant]]\nname = \"a\"\nfiles = [\"[\"]":                                                  "rules.tenant \"a\": files \"[\"",
		"[[rules.tenant]]\nname = \"a\"\nfiles = [\"x\"]\n[[rules.tenant]]\nname = \"a\"\nfiles = [\"y\"]": "listed twice",
		"[rules]\nfile = [\"x\"]":                                                                          "file",
	} {
		if _, err := ParseConfig([]byte("name = \"c1\"\n" + doc)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one naming %s", doc, err, want)
		}
	}
}

// CheckRules refuses a bad rule file as the start does.
func TestCheckRules(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ok.yml"), []byte("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	doc := "name = \"c1\"\n[[rules.tenant]]\nname = \"acme\"\nfiles = [\"" + filepath.Join(dir, "*.yml") + "\"]\n"
	c, err := ParseConfig([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckRules(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.yml"), []byte("groups:\n- name: g2\n  rules:\n  - alert: B\n    expr: up ==\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.CheckRules(); err == nil || !strings.Contains(err.Error(), "bad.yml") || !strings.Contains(err.Error(), `"B"`) {
		t.Errorf("bad file: %v", err)
	}
}
