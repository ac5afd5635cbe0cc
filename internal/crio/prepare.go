package crio

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Scratch-repository identity: fixed, so the same inputs give the same commits
// and therefore the same buildCommit in `crio version`.
const (
	gitName  = "crio-userns build"
	gitEmail = "build@crio-userns.invalid"
)

// Tree is a prepared CRI-O source tree.
type Tree struct {
	Dir      string
	Applied  int    // patches applied on top of the pristine commit
	Head     string // commit the build reports as buildCommit
	Date     time.Time
	Stamp    string // digest of every input that shaped the tree
	Reused   bool   // the tree was already prepared from the same inputs
	Pristine bool
	// Base is the commit the series applies onto, for a tree cloned from
	// a CRI-O checkout (PrepareCheckout); "" for a release tree.
	Base string
	// Merged counts the patches that needed a three-way merge (checkouts only).
	Merged int
}

// Prepare makes dst a git repository holding mod's source as one commit, then
// applies series (nil for pristine) with git am. An existing dst prepared from
// the same inputs is reused untouched so the Go build cache stays warm.
func Prepare(ctx context.Context, mod *Module, series *Series, dst string, log io.Writer) (*Tree, error) {
	stamp, err := treeStamp(mod, series)
	if err != nil {
		return nil, err
	}
	if t, err := reusedTree(ctx, dst, stamp, series); t != nil || err != nil {
		return t, err
	}
	if err := clearTree(dst); err != nil {
		return nil, err
	}
	if err := copyTree(mod.Dir, dst); err != nil {
		return nil, fmt.Errorf("copying %s to %s: %w", mod.Dir, dst, err)
	}
	date := mod.ReleaseTime()
	env := []string{
		"GIT_AUTHOR_DATE=" + date.Format(time.RFC3339),
		"GIT_COMMITTER_DATE=" + date.Format(time.RFC3339),
	}
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"add", "-A", "--force"},
		{"commit", "-q", "--no-verify", "-m", fmt.Sprintf("cri-o %s (pristine, Go module proxy, %s)", mod.Version, mod.Sum)},
	} {
		if _, err := git(ctx, dst, env, args...); err != nil {
			return nil, err
		}
	}

	t := &Tree{Dir: dst, Stamp: stamp, Pristine: series == nil}
	if series != nil {
		for _, p := range series.Patches {
			if err := applyPatch(ctx, dst, p); err != nil {
				return nil, err
			}
			t.Applied++
			fmt.Fprintf(log, "  applied %s\n", filepath.Base(p))
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

// reusedTree returns the tree at dst if it was prepared from the inputs
// that stamp digests (its stamp file says so and it has a HEAD), else nil.
func reusedTree(ctx context.Context, dst, stamp string, series *Series) (*Tree, error) {
	old, err := os.ReadFile(dst + ".stamp")
	if err != nil || string(old) != stamp {
		return nil, nil
	}
	head, err := git(ctx, dst, nil, "rev-parse", "HEAD")
	if err != nil {
		return nil, nil
	}
	t := &Tree{Dir: dst, Head: head, Stamp: stamp, Reused: true, Pristine: series == nil}
	if series != nil {
		t.Applied = len(series.Patches)
	}
	t.Date, err = commitDate(ctx, dst)
	return t, err
}

// clearTree removes the tree at dst, its stamp first: a tree half removed
// or half prepared is never taken for a finished one.
func clearTree(dst string) error {
	if err := os.RemoveAll(dst + ".stamp"); err != nil {
		return err
	}
	if err := os.RemoveAll(dst); err != nil {
		return fmt.Errorf("removing old tree %s: %w", dst, err)
	}
	return nil
}

var failedHunk = regexp.MustCompile(`(?m)^error: (patch failed: .*|.*: patch does not apply|.*: does not exist in index|.*: already exists in working directory)$`)

// applyPatch runs git am for one patch. On failure it aborts the am session,
// so the tree is left at the last good commit, and names the patch and hunk.
func applyPatch(ctx context.Context, dir, patch string) error {
	abs, err := filepath.Abs(patch)
	if err != nil {
		return err
	}
	// Author dates come from the patch; the committer date follows them so
	// that applying the same series twice yields the same commit IDs.
	out, err := git(ctx, dir, nil, "am", "-q", "--committer-date-is-author-date", abs)
	if err == nil {
		return nil
	}
	_, _ = git(ctx, dir, nil, "am", "--abort")
	where := "see the git am output below"
	if m := failedHunk.FindAllStringSubmatch(out+err.Error(), -1); len(m) > 0 {
		var hunks []string
		for _, x := range m {
			hunks = append(hunks, x[1])
		}
		where = strings.Join(hunks, "; ")
	}
	return fmt.Errorf("patch %s does not apply: %s\n%w", patch, where, err)
}

func treeStamp(mod *Module, series *Series) (string, error) {
	return inputStamp(fmt.Sprintf("module %s@%s %s", mod.Path, mod.Version, mod.Sum), series)
}

// inputStamp digests what a tree is made of: its origin (a release or a
// checkout's commit) and the content of each patch, or "pristine".
func inputStamp(origin string, series *Series) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "stamp v1\n%s\n", origin)
	if series == nil {
		fmt.Fprintln(h, "pristine")
	} else {
		for _, p := range series.Patches {
			data, err := os.ReadFile(p)
			if err != nil {
				return "", fmt.Errorf("reading patch: %w", err)
			}
			sum := sha256.Sum256(data)
			fmt.Fprintf(h, "patch %s %x\n", filepath.Base(p), sum)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func commitDate(ctx context.Context, dir string) (time.Time, error) {
	out, err := git(ctx, dir, nil, "log", "-1", "--format=%cI")
	if err != nil {
		return time.Time{}, err
	}
	return time.Parse(time.RFC3339, out)
}

func git(ctx context.Context, dir string, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-c", "user.name=" + gitName, "-c", "user.email=" + gitEmail, "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1"), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("git %s in %s: %w\n%s", strings.Join(args, " "), dir, err, strings.TrimSpace(out.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// copyTree copies the module cache's read-only tree into a writable one.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case d.Type().IsRegular():
			return copyFile(path, target, info.Mode().Perm()|0o200)
		default:
			return fmt.Errorf("%s: unexpected file type %v", path, d.Type())
		}
	})
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
