package crio

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeRelease writes a small source tree standing in for a module cache
// directory, read-only as the go command leaves it.
func fakeRelease(t *testing.T) *Module {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"server/userns.go": "package server\n\nconst mapToRoot = false\n",
		"pinns/Makefile":   "all:\n",
		"README.md":        "cri-o\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	return &Module{Path: ModulePath, Version: "v9.9.9", Dir: dir, Sum: "h1:test"}
}

// writePatch produces a real git format-patch file changing server/userns.go.
func writePatch(t *testing.T, m *Module, name, from, to string) string {
	t.Helper()
	work := filepath.Join(t.TempDir(), "work")
	if err := copyTree(m.Dir, work); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	mustGit := func(args ...string) {
		if _, err := git(ctx, work, nil, args...); err != nil {
			t.Fatal(err)
		}
	}
	mustGit("init", "-q")
	mustGit("add", "-A")
	mustGit("commit", "-q", "-m", "base")
	p := filepath.Join(work, "server/userns.go")
	data, _ := os.ReadFile(p)
	if err := os.WriteFile(p, []byte(strings.Replace(string(data), from, to, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	mustGit("commit", "-q", "-a", "-s", "-m", "server: "+name)
	out := t.TempDir()
	mustGit("format-patch", "-q", "-o", out, "HEAD~1")
	matches, _ := filepath.Glob(filepath.Join(out, "*.patch"))
	if len(matches) != 1 {
		t.Fatalf("format-patch wrote %v", matches)
	}
	dst := filepath.Join(t.TempDir(), name+".patch")
	if err := os.Rename(matches[0], dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

func seriesOf(t *testing.T, patches ...string) *Series {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "v9.9.9")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, p := range patches {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Join(dir, strings.Repeat("0", 3)+string(rune('1'+i))+"-"+filepath.Base(p))
		if err := os.WriteFile(name, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := LoadSeries(root, "v9.9.9")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPrepareAppliesSeriesAndReuses(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is required:", err)
	}
	m := fakeRelease(t)
	s := seriesOf(t, writePatch(t, m, "enable", "mapToRoot = false", "mapToRoot = true"))
	dst := filepath.Join(t.TempDir(), "src")
	ctx := context.Background()

	tree, err := Prepare(ctx, m, s, dst, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if tree.Applied != 1 || tree.Reused {
		t.Fatalf("first Prepare: applied=%d reused=%v, want 1, false", tree.Applied, tree.Reused)
	}
	got, _ := os.ReadFile(filepath.Join(dst, "server/userns.go"))
	if !strings.Contains(string(got), "mapToRoot = true") {
		t.Fatalf("patch not applied:\n%s", got)
	}

	again, err := Prepare(ctx, m, s, dst, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Reused || again.Head != tree.Head {
		t.Fatalf("second Prepare: reused=%v head=%s, want reuse of %s", again.Reused, again.Head, tree.Head)
	}

	// The same inputs in a fresh place give the same commit: buildCommit is reproducible.
	other, err := Prepare(ctx, m, s, filepath.Join(t.TempDir(), "src"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if other.Head != tree.Head {
		t.Fatalf("commit differs between identical preparations: %s vs %s", other.Head, tree.Head)
	}

	pristine, err := Prepare(ctx, m, nil, filepath.Join(t.TempDir(), "pristine"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if pristine.Applied != 0 || pristine.Head == tree.Head {
		t.Fatalf("pristine: applied=%d head=%s", pristine.Applied, pristine.Head)
	}
}

func TestPrepareNamesTheFailingPatchAndHunk(t *testing.T) {
	m := fakeRelease(t)
	good := writePatch(t, m, "enable", "mapToRoot = false", "mapToRoot = true")
	// A patch written against a different base: its context does not match.
	bad := writePatch(t, &Module{Dir: func() string {
		d := t.TempDir()
		if err := copyTree(m.Dir, d); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(d, "server/userns.go"), []byte("package server\n\nconst mapToRoot = 1\n"), 0o644)
		return d
	}()}, "rebase-needed", "mapToRoot = 1", "mapToRoot = 2")
	s := seriesOf(t, good, bad)
	dst := filepath.Join(t.TempDir(), "src")

	_, err := Prepare(context.Background(), m, s, dst, io.Discard)
	if err == nil {
		t.Fatal("Prepare succeeded with a patch that cannot apply")
	}
	msg := err.Error()
	for _, want := range []string{"0002-rebase-needed.patch does not apply", "patch failed: server/userns.go:1"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not contain %q:\n%s", want, msg)
		}
	}
	if _, err := os.Stat(dst + ".stamp"); err == nil {
		t.Error("a failed preparation left a stamp: the next run would reuse a half-patched tree")
	}
	if _, err := os.Stat(filepath.Join(dst, ".git", "rebase-apply")); err == nil {
		t.Error("git am session left open in the tree")
	}
}

func TestLoadSeries(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "v1.36.3"), 0o755)
	os.MkdirAll(filepath.Join(root, "v1.34.0"), 0o755)
	for _, f := range []string{"0002-b.patch", "0001-a.patch", "README.md", ".gitkeep"} {
		os.WriteFile(filepath.Join(root, "v1.36.3", f), nil, 0o644)
	}

	s, err := LoadSeries(root, "v1.36.3")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range s.Patches {
		names = append(names, filepath.Base(p))
	}
	if strings.Join(names, ",") != "0001-a.patch,0002-b.patch" {
		t.Errorf("patches = %v", names)
	}

	empty, err := LoadSeries(root, "v1.34.0")
	if err != nil || len(empty.Patches) != 0 {
		t.Errorf("empty series: %v, %v", empty, err)
	}

	_, err = LoadSeries(root, "v1.99.0")
	if err == nil || !strings.Contains(err.Error(), "no patch series for CRI-O v1.99.0") || !strings.Contains(err.Error(), "v1.34.0, v1.36.3") {
		t.Errorf("missing series error = %v", err)
	}
}

func TestTreeStampFollowsPatchContent(t *testing.T) {
	m := &Module{Path: ModulePath, Version: "v1", Sum: "h1:a"}
	dir := t.TempDir()
	p := filepath.Join(dir, "0001-x.patch")
	os.WriteFile(p, []byte("one"), 0o644)
	s := &Series{Patches: []string{p}}
	a, _ := treeStamp(m, s)
	os.WriteFile(p, []byte("two"), 0o644)
	b, _ := treeStamp(m, s)
	c, _ := treeStamp(m, nil)
	m2 := *m
	m2.Sum = "h1:b"
	d, _ := treeStamp(&m2, s)
	if a == b || a == c || b == c || b == d {
		t.Fatalf("stamps do not separate inputs: %s %s %s %s", a, b, c, d)
	}
}
