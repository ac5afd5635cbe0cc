package crio

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Identity is who signs off the patches of an export: the `git config`
// user.name and user.email of the developer who runs it.
type Identity struct{ Name, Email string }

// GitIdentity reads user.name and user.email from `git config` in dir.
func GitIdentity(ctx context.Context, dir string) (Identity, error) {
	var id Identity
	for key, dst := range map[string]*string{"user.name": &id.Name, "user.email": &id.Email} {
		out, err := gitConfig(ctx, dir, key)
		if err != nil || out == "" {
			return id, fmt.Errorf("git config %s is not set: the patches are signed off with your identity (git config --global %s ...)", key, key)
		}
		*dst = out
	}
	return id, nil
}

// Export writes the commits of tree since its pristine commit (the root of
// a release tree, so that a series of any length exports whole; the commit
// PrepareCheckout cloned) to dir as format-patch files, replacing the
// *.patch files there, each signed off by id. Patches of a checkout name
// their base commit (git format-patch --base), which is CRI-O's own history
// and what a reviewer applies them to. It returns the files written.
func Export(ctx context.Context, tree, dir string, id Identity) ([]string, error) {
	pristine, err := pristineCommit(ctx, tree)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	args := []string{"format-patch", "--no-signature", "--signoff", "-N", "-o", abs, pristine + "..HEAD"}
	if c, err := git(ctx, tree, nil, "rev-parse", "--verify", "--quiet", pristineRef); err == nil && c != "" {
		args = append(args, "--base="+pristine)
	}
	old, err := filepath.Glob(filepath.Join(dir, "*.patch"))
	if err != nil {
		return nil, err
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return nil, err
		}
	}
	out, err := gitAs(ctx, tree, id, args...)
	if err != nil {
		return nil, err
	}
	return strings.Fields(out), nil
}

// gitAs runs git in dir as id (the signing-off committer identity).
func gitAs(ctx context.Context, dir string, id Identity, args ...string) (string, error) {
	return git(ctx, dir, nil, append([]string{"-c", "user.name=" + id.Name, "-c", "user.email=" + id.Email}, args...)...)
}

// gitConfig reads key as the developer's git sees it: not through git(),
// which pins the scratch identity on purpose.
func gitConfig(ctx context.Context, dir, key string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", "config", key)
	cmd.Dir = dir
	out, err := cmd.Output()
	return strings.TrimSpace(string(out)), err
}
