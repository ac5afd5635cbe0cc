package crio

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// MainSeries is the directory of the series written against CRI-O's main
// branch: the upstream pull requests. The Go module proxy serves releases
// only, so this series applies to a CRI-O git checkout that the developer
// names (PrepareCheckout), and it is not a supported version: ListSeries
// leaves it out, and nothing builds a node from it.
const MainSeries = "main"

// pristineRef marks, in a tree that PrepareCheckout made, the commit the
// series was applied onto. A release tree has no such ref: its pristine
// commit is its root commit.
const pristineRef = "refs/crio-userns/pristine"

// Checkout describes the CRI-O git checkout a tree was cloned from.
type Checkout struct {
	Dir  string // the checkout, as named by the developer (only read)
	Head string // its HEAD commit, which the series applies onto
	// Describe is `git describe` of Head, for messages.
	Describe string
	// Dirty is set when the checkout has uncommitted changes to tracked
	// files: they are not in the tree, which starts from Head.
	Dirty bool
}

// ReadCheckout checks that dir is a git checkout of CRI-O and reads its
// HEAD. dir is only read.
func ReadCheckout(ctx context.Context, dir string) (*Checkout, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	head, err := git(ctx, abs, nil, "rev-parse", "--verify", "HEAD^{commit}")
	if err != nil {
		return nil, fmt.Errorf("%s is not a git checkout with a HEAD commit: %w", dir, err)
	}
	gomod, err := git(ctx, abs, nil, "show", head+":go.mod")
	if err != nil || !declaresModule(gomod, ModulePath) {
		return nil, fmt.Errorf("%s is not a CRI-O checkout: go.mod at its HEAD %.12s does not declare module %s", dir, head, ModulePath)
	}
	c := &Checkout{Dir: abs, Head: head}
	c.Describe, _ = git(ctx, abs, nil, "describe", "--tags", "--always", head)
	status, err := git(ctx, abs, nil, "status", "--porcelain", "--untracked-files=no")
	c.Dirty = err == nil && status != ""
	return c, nil
}

func declaresModule(gomod, path string) bool {
	sc := bufio.NewScanner(strings.NewReader(gomod))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`) == path
		}
	}
	return false
}

// PrepareCheckout makes dst a scratch clone of checkout c at its HEAD and
// applies series (nil: none) with git am. The clone borrows c's objects
// (git clone --shared), so it is cheap, and c is only read: its working
// tree, index, refs and configuration stay as they are. A patch that does
// not apply as it is, because c moved on from the commit the series was
// written against, is tried again with a three-way merge (git am -3), and
// Tree.Merged counts those. An existing dst prepared from the same HEAD and
// patches is reused.
func PrepareCheckout(ctx context.Context, c *Checkout, series *Series, dst string, log io.Writer) (*Tree, error) {
	dst, err := filepath.Abs(dst)
	if err != nil {
		return nil, err
	}
	stamp, err := inputStamp("checkout "+c.Head, series)
	if err != nil {
		return nil, err
	}
	if t, err := reusedTree(ctx, dst, stamp, series); t != nil || err != nil {
		if t != nil {
			t.Base = c.Head
		}
		return t, err
	}
	if err := clearTree(dst); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return nil, err
	}
	if _, err := git(ctx, filepath.Dir(dst), nil, "clone", "--quiet", "--shared", "--no-checkout", c.Dir, dst); err != nil {
		return nil, fmt.Errorf("cloning %s: %w", c.Dir, err)
	}
	for _, args := range [][]string{
		{"checkout", "--quiet", "--detach", c.Head},
		{"update-ref", pristineRef, c.Head},
	} {
		if _, err := git(ctx, dst, nil, args...); err != nil {
			return nil, err
		}
	}

	t := &Tree{Dir: dst, Stamp: stamp, Pristine: series == nil, Base: c.Head}
	if series != nil {
		for _, p := range series.Patches {
			merged, err := applyPatchOrMerge(ctx, dst, p)
			if err != nil {
				return nil, err
			}
			t.Applied++
			how := "applied"
			if merged {
				t.Merged++
				how = "applied with a three-way merge"
			}
			fmt.Fprintf(log, "  %s %s\n", how, filepath.Base(p))
		}
	}
	if t.Head, err = git(ctx, dst, nil, "rev-parse", "HEAD"); err != nil {
		return nil, err
	}
	if t.Date, err = commitDate(ctx, dst); err != nil {
		return nil, err
	}
	return t, os.WriteFile(dst+".stamp", []byte(stamp), 0o644)
}

// applyPatchOrMerge applies patch as it is or, failing that, with a
// three-way merge against the blobs the patch names, which a real CRI-O
// history holds. It reports whether the merge was needed.
func applyPatchOrMerge(ctx context.Context, dir, patch string) (bool, error) {
	err := applyPatch(ctx, dir, patch)
	if err == nil {
		return false, nil
	}
	abs, absErr := filepath.Abs(patch)
	if absErr != nil {
		return false, absErr
	}
	if _, err3 := git(ctx, dir, nil, "am", "-q", "-3", "--committer-date-is-author-date", abs); err3 != nil {
		_, _ = git(ctx, dir, nil, "am", "--abort")
		return false, fmt.Errorf("%w\n(a three-way merge, git am -3, failed too: %v)", err, err3)
	}
	return true, nil
}

// pristineCommit returns the commit of tree that the series was applied
// onto: the one PrepareCheckout marked, or else the root commit that
// Prepare made of the release.
func pristineCommit(ctx context.Context, tree string) (string, error) {
	if c, err := git(ctx, tree, nil, "rev-parse", "--verify", "--quiet", pristineRef); err == nil && c != "" {
		return c, nil
	}
	return git(ctx, tree, nil, "rev-list", "--max-parents=0", "HEAD")
}

var baseCommitTrailer = regexp.MustCompile(`(?m)^base-commit: ([0-9a-f]{40})$`)

// BaseCommit returns the commit the series was exported against: the
// base-commit line that git format-patch --base writes after the first
// patch's diff, "" when the patches carry none. Patches that name different
// bases (from several exports) are an error.
func (s *Series) BaseCommit() (string, error) {
	base := ""
	for _, p := range s.Patches {
		data, err := os.ReadFile(p)
		if err != nil {
			return "", err
		}
		m := baseCommitTrailer.FindSubmatch(data)
		if m == nil {
			continue
		}
		if base != "" && base != string(m[1]) {
			return "", fmt.Errorf("%s: base-commit %s, but an earlier patch of the series names %s", p, m[1], base)
		}
		base = string(m[1])
	}
	return base, nil
}
