package crio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Linter is the golangci-lint release `crio-build -lint` installs from the
// Go module proxy. CRI-O's Makefile pins v2.10.1, which the proxy does not
// serve here; its .golangci.yml (version 2) works with this one.
const Linter = "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0"

// LintTags are the build tags for linting a tree: CRI-O's .golangci.yml
// names its own, and this machine also lacks devicemapper's headers.
var LintTags = []string{
	"apparmor", "containers_image_ostree_stub", "containers_image_openpgp", "selinux", "test",
	"exclude_graphdriver_btrfs", "exclude_graphdriver_devicemapper",
}

// InstallLinter installs Linter into dir (unless it is there) and returns
// its path.
func InstallLinter(ctx context.Context, dir string, log *os.File) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	version := Linter[strings.LastIndex(Linter, "@")+1:]
	bin := filepath.Join(dir, "golangci-lint-"+version)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	tmp := filepath.Join(dir, "install-"+version)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, "go", "install", Linter)
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOFLAGS=")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("installing %s from the Go module proxy: %w", Linter, err)
	}
	return bin, os.Rename(filepath.Join(tmp, "golangci-lint"), bin)
}

// Lint runs golangci-lint with the tree's own configuration (CRI-O's
// .golangci.yml) on pkgs and reports only what the series changed: the
// issues in lines added after the tree's pristine commit (pristineCommit).
// It returns the linter's report and whether it found anything.
func Lint(ctx context.Context, linter, tree string, pkgs []string) (string, bool, error) {
	pristine, err := pristineCommit(ctx, tree)
	if err != nil {
		return "", false, err
	}
	// A release whose go.mod names a module version the proxy refuses is
	// type-checked against the substitute its build uses.
	mod, err := PrepareModFile(ctx, tree)
	if err != nil {
		return "", false, err
	}
	args := []string{"run", "--new-from-rev=" + pristine, "--build-tags=" + strings.Join(LintTags, ","), "--timeout=30m"}
	cmd := exec.CommandContext(ctx, linter, append(args, pkgs...)...)
	cmd.Dir = tree
	cmd.Env = append(os.Environ(), "GOFLAGS="+mod.GoFlags(), "CGO_ENABLED=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	if exit := (*exec.ExitError)(nil); errors.As(err, &exit) && exit.ExitCode() == 1 {
		return out.String(), true, nil // issues found
	}
	if err != nil {
		return out.String(), false, fmt.Errorf("golangci-lint in %s: %w\n%s", tree, err, out.String())
	}
	return out.String(), false, nil
}
