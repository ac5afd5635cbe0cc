// Command crio-rpm builds and checks the project's RPMs (rpm/*.spec).
//
//	crio-rpm build [flags]   stage the sources, make the SRPMs, rebuild them offline → -out
//	crio-rpm check [flags]   rpmlint, file lists, install into an empty root, run it, e2e
//
// `make rpm` and `make rpm-check` run it; see rpm/README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/crio-userns/crio-userns/internal/crio"
	"github.com/crio-userns/crio-userns/internal/repo"
	"github.com/crio-userns/crio-userns/internal/rpm"
)

func main() {
	if len(os.Args) < 2 || (os.Args[1] != "build" && os.Args[1] != "check") {
		fmt.Fprintln(os.Stderr, "usage: crio-rpm build|check [flags] (-h for the flags)")
		os.Exit(2)
	}
	verb := os.Args[1]
	fs := flag.NewFlagSet("crio-rpm "+verb, flag.ExitOnError)
	o := &rpm.Options{}
	fs.StringVar(&o.CrioVersion, "crio-version", "", "CRI-O release; patches/<it> is the series (default: the newest series)")
	fs.StringVar(&o.Release, "release", "1", "N of cri-o's Release 990.userns.N")
	fs.StringVar(&o.HookVersion, "hook-version", "0.1.0", "Version of crio-userns-hook")
	fs.StringVar(&o.HookRelease, "hook-release", "1", "Release of crio-userns-hook")
	fs.StringVar(&o.Dist, "dist", ".el9", "%{dist} of the target: .el9, .el8, or empty")
	out := fs.String("out", "_output/rpm", "where the SRPMs and RPMs go (work files in OUT/work)")
	verbose := fs.Bool("v", false, "show rpmbuild's and go's output")
	update := fs.Bool("update-expected", false, "check: rewrite rpm/*.files.expected from the packages")
	e2e := fs.Bool("e2e", true, "check: run the e2e scenario on the installed crio")
	e2eDir := fs.String("e2e-dir", "_output/e2e-rpm", "check: CRIO_USERNS_E2E_DIR for the e2e scenario")
	_ = fs.Parse(os.Args[2:])

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, verb, o, *out, *verbose, rpm.CheckOptions{UpdateExpected: *update, E2E: *e2e, E2EDir: *e2eDir}); err != nil {
		fmt.Fprintf(os.Stderr, "crio-rpm %s: %v\n", verb, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, verb string, o *rpm.Options, out string, verbose bool, co rpm.CheckOptions) error {
	root, err := repo.Root()
	if err != nil {
		return err
	}
	o.Root = root
	if o.CrioVersion == "" {
		if o.CrioVersion, err = crio.DefaultSeries(filepath.Join(root, "patches")); err != nil {
			return err
		}
	}
	if o.Out, err = filepath.Abs(out); err != nil {
		return err
	}
	if co.E2EDir, err = filepath.Abs(co.E2EDir); err != nil {
		return err
	}
	o.Log = io.Discard
	if verbose {
		o.Log = os.Stderr
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return err
	}
	if verb == "check" {
		return rpm.Check(ctx, o, co)
	}
	in, err := rpm.Stage(ctx, o)
	if err != nil {
		return err
	}
	pkgs, err := rpm.Build(ctx, o, in)
	if err != nil {
		return err
	}
	for _, p := range append(pkgs.SRPMs, pkgs.RPMs...) {
		fmt.Printf("crio-rpm: %s\n", p)
	}
	return nil
}
