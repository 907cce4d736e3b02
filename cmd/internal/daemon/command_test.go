package daemon

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"
)

func testProgram(ran *[]string) Program {
	record := func(name string, err error) func([]string) error {
		return func(args []string) error {
			*ran = append(*ran, name+" "+strings.Join(args, " "))
			return err
		}
	}
	return Program{Name: "prog", Commands: []Command{
		{Name: "run", Help: "run it", Run: record("run", nil)},
		{Name: "check", Help: "check things:\n  check all|NAME...", Run: record("check", ExitStatus(1))},
		{Name: "fail", Help: "fail", Run: record("fail", errors.New("boom"))},
		{Name: "flags", Help: "parse flags", Run: func(args []string) error {
			fs := flag.NewFlagSet("flags", flag.ContinueOnError)
			fs.SetOutput(new(bytes.Buffer))
			return fs.Parse(args)
		}},
		VersionCommand("prog", "v1.2.3", "abc", new(bytes.Buffer)),
		{Name: "install", Args: "[--config FILE]", Help: "install it\n(needs root)", Section: ServiceSection, Run: record("install", ExitStatus(4))},
	}}
}

func TestProgramMain(t *testing.T) {
	for _, tc := range []struct {
		args           []string
		code           int
		ran            string // the command line the table ran, "" for none
		stdout, stderr string // substrings; "" for nothing
	}{
		{nil, 2, "", "", "usage: prog <command>"},
		{[]string{"run", "--x", "y"}, 0, "run --x y", "", ""},
		{[]string{"check", "all"}, 1, "check all", "", ""},
		{[]string{"fail"}, 1, "fail ", "", "prog: boom"},
		{[]string{"flags", "--nope"}, 1, "", "", "prog: flag provided but not defined: -nope"},
		{[]string{"install"}, 4, "install ", "", ""},
		{[]string{"bogus"}, 2, "", "", `prog: unknown command "bogus"`},
		{[]string{"help"}, 0, "", "usage: prog <command>", ""},
		{[]string{"--help"}, 0, "", "commands:", ""},
		{[]string{"-h"}, 0, "", "commands:", ""},
		{[]string{"help", "run"}, 0, "run -h", "", ""},
		{[]string{"help", "bogus"}, 0, "", "usage: prog <command>", ""},
		{[]string{"--version"}, 0, "", "", ""},
		{[]string{"-version"}, 0, "", "", ""},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var ran []string
			var stdout, stderr bytes.Buffer
			code := testProgram(&ran).Main(tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit status %d, want %d (stderr %q)", code, tc.code, stderr.String())
			}
			if got := strings.Join(ran, "; "); got != tc.ran {
				t.Errorf("ran %q, want %q", got, tc.ran)
			}
			if tc.stdout == "" && stdout.Len() > 0 || !strings.Contains(stdout.String(), tc.stdout) {
				t.Errorf("stdout %q, want %q", stdout.String(), tc.stdout)
			}
			if tc.stderr == "" && stderr.Len() > 0 || !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr %q, want %q", stderr.String(), tc.stderr)
			}
		})
	}
}

func TestUsageText(t *testing.T) {
	got := testProgram(new([]string)).Usage()
	want := `usage: prog <command> [flags]

commands:
  run      run it
  check    check things:
             check all|NAME...
  fail     fail
  flags    parse flags
  version  print the version and commit (also --version)

` + ServiceSection + `:
  install [--config FILE]  install it
                           (needs root)

Run 'prog <command> -h' for a command's flags.
`
	if got != want {
		t.Errorf("Usage() =\n%s\nwant\n%s", got, want)
	}
}

// Every service action is a command, in the service section, that runs
// ServiceAction; status's exit codes come back as ExitStatus.
func TestServiceCommands(t *testing.T) {
	cmds := ServiceCommands(Spec{Name: "prog", Config: "/etc/vigil/prog.toml"}, new(bytes.Buffer))
	if len(cmds) != len(Actions) {
		t.Fatalf("%d service commands for %d actions", len(cmds), len(Actions))
	}
	for i, c := range cmds {
		if c.Name != Actions[i] || c.Section != ServiceSection || c.Help == "" || c.Run == nil {
			t.Errorf("service command %d: %+v", i, c)
		}
	}
	usage := Program{Name: "prog", Commands: cmds}.Usage()
	if !strings.Contains(usage, "install [--config FILE]  register the service to run 'prog run --config FILE'\n") ||
		!strings.Contains(usage, "(default /etc/vigil/prog.toml); needs root") {
		t.Errorf("usage:\n%s", usage)
	}
}
