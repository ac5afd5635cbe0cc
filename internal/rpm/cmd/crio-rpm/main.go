// Command crio-rpm builds the project's RPMs (rpm/*.spec): it stages the
// sources, makes the SRPMs and rebuilds them offline into -out. `make rpm`
// runs it; test/cmd/rpm-check checks what it built. See rpm/README.md.
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

	"github.com/crio-userns/crio-userns/internal/repo"
	"github.com/crio-userns/crio-userns/internal/rpm"
)

func main() {
	fs := flag.NewFlagSet("crio-rpm", flag.ExitOnError)
	o := &rpm.Options{}
	var out string
	o.RegisterFlags(fs, &out)
	verbose := fs.Bool("v", false, "show rpmbuild's and go's output")
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "build" {
		args = args[1:]
	}
	_ = fs.Parse(args)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, out, *verbose); err != nil {
		fmt.Fprintf(os.Stderr, "crio-rpm: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o *rpm.Options, out string, verbose bool) error {
	root, err := repo.Root()
	if err != nil {
		return err
	}
	o.Root = root
	if err := o.DefaultVersion(); err != nil {
		return err
	}
	if o.Out, err = filepath.Abs(out); err != nil {
		return err
	}
	o.Log = io.Discard
	if verbose {
		o.Log = os.Stderr
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return err
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
