package daemon

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
)

// Command is one subcommand of a program. Each main keeps its commands in
// one Program table that both dispatches and writes the usage text, so a
// command cannot run without being listed or be listed without running.
type Command struct {
	// Name is what the user types after the program's name.
	Name string
	// Aliases run the command too; the usage text does not list them.
	Aliases []string
	// Args follows Name in the usage text's first column: "[--config FILE]".
	Args string
	// Help is the usage text's second column. Its first line is one
	// sentence; further lines (forms, flags) are indented under it.
	Help string
	// Section groups the command in the usage text: "" for the program's
	// own commands, ServiceSection for the service commands.
	Section string
	// Run runs the command with the arguments after its name. An
	// ExitStatus ends the program with that status and no message; any
	// other error is printed after the program's name, with status 1.
	Run func(args []string) error
}

// ServiceSection is the Section of the commands ServiceCommands returns.
const ServiceSection = "service commands (kardianos/service: systemd, SysV init, launchd, Windows)"

// ExitStatus is an error that ends the program with its value as the exit
// status and prints nothing: the command has already said why.
type ExitStatus int

func (e ExitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// Program is a command-line program made of Commands.
type Program struct {
	Name     string // "vigil-agent"
	Commands []Command
}

// Usage is the usage text: the commands by section, in table order.
func (p Program) Usage() string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: %s <command> [flags]\n", p.Name)
	var sections []string
	for _, c := range p.Commands {
		if !slices.Contains(sections, c.Section) {
			sections = append(sections, c.Section)
		}
	}
	for _, s := range sections {
		fmt.Fprintf(&b, "\n%s:\n", cmp.Or(s, "commands"))
		width := 0
		for _, c := range p.Commands {
			if c.Section == s {
				width = max(width, len(c.synopsis()))
			}
		}
		for _, c := range p.Commands {
			if c.Section != s {
				continue
			}
			lines := strings.Split(strings.TrimRight(c.Help, "\n"), "\n")
			fmt.Fprintf(&b, "  %-*s  %s\n", width, c.synopsis(), lines[0])
			for _, l := range lines[1:] {
				fmt.Fprintf(&b, "  %*s  %s\n", width, "", l)
			}
		}
	}
	fmt.Fprintf(&b, "\nRun '%s <command> -h' for a command's flags.\n", p.Name)
	return b.String()
}

func (c Command) synopsis() string {
	if c.Args == "" {
		return c.Name
	}
	return c.Name + " " + c.Args
}

func (p Program) lookup(name string) (Command, bool) {
	for _, c := range p.Commands {
		if c.Name == name || slices.Contains(c.Aliases, name) {
			return c, true
		}
	}
	return Command{}, false
}

// Main runs the command args[0] names with the rest of args and returns
// the process's exit status: 0; 1 when the command failed; 2 for a usage
// error (no command, or an unknown one). "help", "-h" and "--help" print
// the usage text; "help COMMAND" prints the command's flags.
func (p Program) Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, p.Usage())
		return 2
	}
	name, args := args[0], args[1:]
	if name == "help" || name == "-h" || name == "--help" {
		if len(args) > 0 {
			if c, ok := p.lookup(args[0]); ok {
				return p.run(c, []string{"-h"}, stderr)
			}
		}
		fmt.Fprint(stdout, p.Usage())
		return 0
	}
	c, ok := p.lookup(name)
	if !ok {
		fmt.Fprintf(stderr, "%s: unknown command %q\n\n%s", p.Name, name, p.Usage())
		return 2
	}
	return p.run(c, args, stderr)
}

func (p Program) run(c Command, args []string, stderr io.Writer) int {
	err := c.Run(args)
	var status ExitStatus
	switch {
	case err == nil:
		return 0
	case errors.As(err, &status):
		return int(status)
	default:
		fmt.Fprintf(stderr, "%s: %v\n", p.Name, err)
		return 1
	}
}

// VersionCommand prints VersionLine; --version and -version run it too.
func VersionCommand(name, version, commit string, stdout io.Writer) Command {
	return Command{
		Name:    "version",
		Aliases: []string{"--version", "-version"},
		Help:    "print the version and commit (also --version)",
		Run: func([]string) error {
			_, err := fmt.Fprintln(stdout, VersionLine(name, version, commit))
			return err
		},
	}
}

// ServiceCommands are the service commands of the program spec describes
// (see Actions), in the ServiceSection; spec.Config is the default config
// of install. status exits 3 when the service is not running and 4 when it
// is not installed.
func ServiceCommands(spec Spec, stdout io.Writer) []Command {
	help := map[string]string{
		"install":   fmt.Sprintf("register the service to run '%s run --config FILE'\n(default %s); needs root", spec.Name, spec.Config),
		"uninstall": "stop and unregister the service; needs root",
		"start":     "start the installed service",
		"stop":      "stop the installed service",
		"restart":   "restart the installed service",
		"status":    "print running, stopped or not installed\n(exit status 0, 3 or 4)",
	}
	var cmds []Command
	for _, action := range Actions {
		c := Command{Name: action, Help: help[action], Section: ServiceSection}
		if action == "install" {
			c.Args = "[--config FILE]"
		}
		c.Run = func(args []string) error {
			code, err := ServiceAction(spec, action, args, stdout)
			if err == nil && code != 0 {
				return ExitStatus(code)
			}
			return err
		}
		cmds = append(cmds, c)
	}
	return cmds
}

// NewLogger is the logger of both daemons and their commands: text or JSON
// (format "json") on stderr, at level.
func NewLogger(level slog.Leveler, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}
