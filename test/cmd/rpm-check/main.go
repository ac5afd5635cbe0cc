// Command rpm-check checks the RPMs that crio-rpm built: rpmlint, file lists,
// parity with OpenShift's cri-o package, the manifest of shipped files, an
// install into an empty root, and one e2e scenario on the installed crio.
// `make rpm-check` runs it; see rpm/README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/crio-userns/crio-userns/internal/repo"
	"github.com/crio-userns/crio-userns/internal/rpm"
	"github.com/crio-userns/crio-userns/test/rpmcheck"
)

func main() {
	fs := flag.NewFlagSet("rpm-check", flag.ExitOnError)
	o := &rpm.Options{}
	var out string
	o.RegisterFlags(fs, &out)
	update := fs.Bool("update-expected", false, "rewrite rpm/*.files.expected from the packages")
	e2e := fs.Bool("e2e", true, "run the e2e scenario on the installed crio")
	e2eDir := fs.String("e2e-dir", "_output/e2e-rpm", "CRIO_USERNS_E2E_DIR for the e2e scenario")
	_ = fs.Parse(os.Args[1:])

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := func() error {
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
		dir, err := filepath.Abs(*e2eDir)
		if err != nil {
			return err
		}
		return rpmcheck.Check(ctx, o, rpmcheck.Options{UpdateExpected: *update, E2E: *e2e, E2EDir: dir})
	}()
	if err != nil {
		fmt.Fprintf(os.Stderr, "rpm-check: %v\n", err)
		os.Exit(1)
	}
}
