package crio

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExportSignsOffEveryCommitSinceThePristineOne(t *testing.T) {
	ctx := context.Background()
	m := fakeRelease(t)
	p1 := writePatch(t, m, "0001-a.patch", "false", "true")
	tree := filepath.Join(t.TempDir(), "tree")
	if _, err := Prepare(ctx, m, &Series{Version: m.Version, Patches: []string{p1}}, tree, os.Stderr); err != nil {
		t.Fatal(err)
	}
	// A developer adds two commits in the tree.
	for i, content := range []string{"one", "two"} {
		if err := os.WriteFile(filepath.Join(tree, "README.md"), []byte(content+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := git(ctx, tree, nil, "commit", "-q", "-am", "docs: change "+content+"\n\n```release-note\nNone\n```"); err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
	}
	out := t.TempDir()
	if err := os.WriteFile(filepath.Join(out, "0009-stale.patch"), nil, 0o644); err != nil {
		t.Fatal(err)
	}

	files, err := Export(ctx, tree, out, Identity{Name: "Jane Doe", Email: "jane@example.org"})
	if err != nil {
		t.Fatal(err)
	}

	if len(files) != 3 {
		t.Fatalf("exported %v, want 3 patches (all commits since the pristine one)", files)
	}
	left, _ := filepath.Glob(filepath.Join(out, "*.patch"))
	if len(left) != 3 {
		t.Fatalf("patch directory holds %v: the stale patch must be gone", left)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), "\nSigned-off-by: Jane Doe <jane@example.org>\n") {
			t.Errorf("%s is not signed off by the exporter:\n%s", f, data)
		}
	}
}

func TestGitIdentityNeedsUserNameAndEmail(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("XDG_CONFIG_HOME", dir)
	if _, err := git(context.Background(), dir, nil, "init", "-q"); err != nil {
		t.Fatal(err)
	}
	if _, err := GitIdentity(context.Background(), dir); err == nil || !strings.Contains(err.Error(), "git config user.") {
		t.Fatalf("err = %v, want one naming the missing git config key", err)
	}
}
