// Package app is the crio-userns-hook command: flag parsing, hook mode
// (state on stdin, exit status for the runtime), `validate` (offline lint of
// a bundle), and the reporting both share. The checks themselves live in
// hook/internal/checks; this package gathers their inputs.
package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/crio-userns/crio-userns/hook/internal/checks"
)

// Options are the process's surroundings, replaceable in tests.
type Options struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Version        string
}

// Exit statuses. The runtime treats any non-zero status of a createRuntime
// hook as failure, so usage errors fail closed too.
const (
	ExitOK    = 0
	ExitFail  = 1
	ExitUsage = 2
)

// Prog is the program name, the first word of every verdict line.
const Prog = "crio-userns-hook"

type flags struct {
	policy    string
	logFormat string
	procRoot  string
	bundle    string
	version   bool
	help      bool
}

const usageText = `Usage:
  crio-userns-hook [--policy FILE] [--log-format text|json]
      OCI createRuntime hook: reads the container state on stdin, checks the
      user-namespace mappings of <bundle>/config.json, exits 0 to let the
      container run or 1 to refuse it.
  crio-userns-hook validate --bundle DIR [--policy FILE]
      Lint a bundle offline with the same checks (the live-map check needs a
      running container and is skipped); human output, exit 1 on errors.
  crio-userns-hook --version | --help

Options:
  --policy FILE        policy file (default /etc/crio-userns/policy.toml; the
                       defaults apply when that file is absent)
  --log-format FORMAT  "text" (default) or "json" log records on stderr
  --bundle DIR         (validate) the OCI bundle to check
  --proc-root DIR      where to find /proc (for tests; default /proc)

See crio-userns-hook(8).
`

func newFlagSet(name string, f *flags) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported by Main in the verdict format
	fs.StringVar(&f.policy, "policy", "", "policy file")
	fs.StringVar(&f.logFormat, "log-format", "text", "text or json")
	fs.StringVar(&f.procRoot, "proc-root", "/proc", "proc filesystem root")
	fs.BoolVar(&f.version, "version", false, "print the version")
	fs.BoolVar(&f.help, "help", false, "print help")
	fs.BoolVar(&f.help, "h", false, "print help")
	return fs
}

// Main runs the command and returns the process exit status.
func Main(args []string, o Options) int {
	var f flags
	fs := newFlagSet(Prog, &f)
	if err := fs.Parse(args); err != nil {
		return usageError(o, err)
	}
	rest := fs.Args()
	switch {
	case f.help:
		fmt.Fprint(o.Stdout, usageText)
		return ExitOK
	case f.version:
		fmt.Fprintf(o.Stdout, "%s %s\n", Prog, o.Version)
		return ExitOK
	}
	if err := checkLogFormat(f.logFormat); err != nil {
		return usageError(o, err)
	}
	if len(rest) == 0 {
		return runHook(f, o)
	}
	if rest[0] != "validate" {
		return usageError(o, fmt.Errorf("unknown command %q", rest[0]))
	}
	// The subcommand's own flags start from what was given before it
	// ("--policy X validate --bundle B" honours X): a flag set afresh would
	// reset them to their defaults.
	vf := f
	vfs := newFlagSet(Prog+" validate", &vf)
	vf = f // newFlagSet wrote the defaults over the copy
	vfs.StringVar(&vf.bundle, "bundle", "", "bundle directory")
	if err := vfs.Parse(rest[1:]); err != nil {
		return usageError(o, err)
	}
	var conflict error
	vfs.Visit(func(fl *flag.Flag) {
		before := fs.Lookup(fl.Name)
		if conflict == nil && before != nil && isSet(fs, fl.Name) && before.Value.String() != fl.Value.String() {
			conflict = fmt.Errorf("--%s given twice, %q before validate and %q after it", fl.Name, before.Value, fl.Value)
		}
	})
	if conflict != nil {
		return usageError(o, conflict)
	}
	if vf.help {
		fmt.Fprint(o.Stdout, usageText)
		return ExitOK
	}
	if vf.version {
		fmt.Fprintf(o.Stdout, "%s %s\n", Prog, o.Version)
		return ExitOK
	}
	if err := checkLogFormat(vf.logFormat); err != nil {
		return usageError(o, err)
	}
	if vfs.NArg() > 0 {
		return usageError(o, fmt.Errorf("validate: unexpected argument %q", vfs.Arg(0)))
	}
	if vf.bundle == "" {
		return usageError(o, errors.New("validate: --bundle DIR is required"))
	}
	return runValidate(vf, o)
}

func isSet(fs *flag.FlagSet, name string) (set bool) {
	fs.Visit(func(fl *flag.Flag) { set = set || fl.Name == name })
	return set
}

func checkLogFormat(s string) error {
	if s != "text" && s != "json" {
		return fmt.Errorf("--log-format %q: want \"text\" or \"json\"", s)
	}
	return nil
}

// usageError keeps the verdict format, so that a broken hooks.d "args"
// shows up in CreateContainer's error as clearly as a refused container.
func usageError(o Options, err error) int {
	fmt.Fprintf(o.Stderr, "%s: -/-/-: usage: %v; run %q\n", Prog, err, Prog+" --help")
	return ExitUsage
}

// oneLine keeps a reason on the single line the runtime shows, with no
// control character that a terminal or a log viewer would act on.
func oneLine(s string) string {
	return checks.Printable(strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s))
}
