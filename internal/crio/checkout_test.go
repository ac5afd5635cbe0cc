package crio

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeCheckout makes a small git repository standing in for a CRI-O
// checkout: a go.mod naming CRI-O's module and the file the test patches
// change. It returns the checkout's directory.
func fakeCheckout(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "cri-o")
	files := map[string]string{
		"go.mod":           "module " + ModulePath + "\n\ngo 1.26\n",
		"server/userns.go": "package server\n\nconst mapToRoot = false\n\nconst keepID = false\n",
		"README.md":        "cri-o\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mustGitIn(t, dir, "init", "-q", "-b", "main")
	mustGitIn(t, dir, "add", "-A")
	mustGitIn(t, dir, "commit", "-q", "-m", "cri-o main")
	return dir
}

func mustGitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := git(context.Background(), dir, nil, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// mainSeriesFrom exports the commits a developer makes on top of the
// checkout's HEAD as patches/main, the way crio-build -export does, and
// returns the series.
func mainSeriesFrom(t *testing.T, checkout string, change func(work string)) *Series {
	t.Helper()
	ctx := context.Background()
	c, err := ReadCheckout(ctx, checkout)
	if err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(t.TempDir(), "work")
	if _, err := PrepareCheckout(ctx, c, nil, work, io.Discard); err != nil {
		t.Fatal(err)
	}
	change(work)
	root := t.TempDir()
	dir := filepath.Join(root, MainSeries)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Export(ctx, work, dir, Identity{Name: "Jane Doe", Email: "jane@example.org"}); err != nil {
		t.Fatal(err)
	}
	s, err := LoadSeries(root, MainSeries)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func editCommit(t *testing.T, dir, from, to, msg string) {
	t.Helper()
	p := filepath.Join(dir, "server/userns.go")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), from) {
		t.Fatalf("%s does not contain %q", p, from)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(data), from, to, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	mustGitIn(t, dir, "commit", "-q", "-a", "-m", msg)
}

// The developer's checkout is only read: the series is applied in a scratch
// clone, the checkout's HEAD, branch, index, working tree (uncommitted
// changes included) and refs stay as they were.
func TestPrepareCheckoutLeavesTheCheckoutAlone(t *testing.T) {
	ctx := context.Background()
	checkout := fakeCheckout(t)
	s := mainSeriesFrom(t, checkout, func(work string) {
		editCommit(t, work, "mapToRoot = false", "mapToRoot = true", "server: map to root")
	})
	// An uncommitted change in the checkout, and a file git does not track.
	if err := os.WriteFile(filepath.Join(checkout, "README.md"), []byte("work in progress\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(checkout, "notes.txt"), []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := checkoutState(t, checkout)

	c, err := ReadCheckout(ctx, checkout)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Dirty {
		t.Error("ReadCheckout: a checkout with an uncommitted change is not reported dirty")
	}
	dst := filepath.Join(t.TempDir(), "cri-o-main")
	tree, err := PrepareCheckout(ctx, c, s, dst, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if tree.Applied != 1 || tree.Merged != 0 || tree.Base != c.Head {
		t.Errorf("tree: applied %d, merged %d, base %s; want 1, 0, %s", tree.Applied, tree.Merged, tree.Base, c.Head)
	}
	got, _ := os.ReadFile(filepath.Join(dst, "server/userns.go"))
	if !strings.Contains(string(got), "mapToRoot = true") {
		t.Errorf("series not applied in the scratch clone:\n%s", got)
	}
	if readme, _ := os.ReadFile(filepath.Join(dst, "README.md")); string(readme) != "cri-o\n" {
		t.Errorf("the scratch clone has the checkout's uncommitted change: %q", readme)
	}
	if after := checkoutState(t, checkout); after != before {
		t.Errorf("the checkout changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if p, err := pristineCommit(ctx, dst); err != nil || p != c.Head {
		t.Errorf("pristine commit of the scratch clone = %s, %v; want the checkout's HEAD %s", p, err, c.Head)
	}
	pkgs, err := TouchedPackages(ctx, dst)
	if err != nil || strings.Join(pkgs, " ") != "./server" {
		t.Errorf("TouchedPackages = %v, %v; want only what the series changes", pkgs, err)
	}

	again, err := PrepareCheckout(ctx, c, s, dst, io.Discard)
	if err != nil || !again.Reused || again.Head != tree.Head {
		t.Errorf("second PrepareCheckout: reused %v, head %s, %v; want a reuse of %s", again != nil && again.Reused, again.Head, err, tree.Head)
	}
}

// checkoutState is what a developer would notice changing in a checkout.
func checkoutState(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	for _, args := range [][]string{
		{"rev-parse", "HEAD"},
		{"symbolic-ref", "HEAD"},
		{"status", "--porcelain", "--untracked-files=all"},
		{"for-each-ref"},
		{"config", "--local", "--list"},
		{"stash", "list"},
		{"worktree", "list", "--porcelain"},
	} {
		b.WriteString(mustGitIn(t, dir, args...) + "\n")
	}
	for _, f := range []string{"README.md", "notes.txt", "server/userns.go"} {
		data, _ := os.ReadFile(filepath.Join(dir, f))
		b.Write(data)
	}
	return b.String()
}

// Patches of the main series name their base commit, and a checkout that
// moved on from it still takes the series where git can merge it.
func TestMainSeriesNamesItsBaseAndMergesOntoALaterHead(t *testing.T) {
	ctx := context.Background()
	checkout := fakeCheckout(t)
	base := mustGitIn(t, checkout, "rev-parse", "HEAD")
	s := mainSeriesFrom(t, checkout, func(work string) {
		editCommit(t, work, "mapToRoot = false", "mapToRoot = true", "server: map to root")
	})
	if got, err := s.BaseCommit(); err != nil || got != base {
		t.Fatalf("BaseCommit = %q, %v; want %s", got, err, base)
	}

	// Upstream changes a line right next to the one the patch changes.
	editCommit(t, checkout, "keepID = false", "keepID = true", "server: keep id")
	c, err := ReadCheckout(ctx, checkout)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := PrepareCheckout(ctx, c, s, filepath.Join(t.TempDir(), "cri-o-main"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if tree.Base != c.Head || tree.Base == base {
		t.Errorf("the series went onto %s; want the checkout's new HEAD %s", tree.Base, c.Head)
	}
	if tree.Merged != 1 {
		t.Errorf("%d patches merged three-way; want 1 (its context changed upstream)", tree.Merged)
	}
	got, _ := os.ReadFile(filepath.Join(tree.Dir, "server/userns.go"))
	if !strings.Contains(string(got), "mapToRoot = true") || !strings.Contains(string(got), "keepID = true") {
		t.Errorf("merged tree:\n%s", got)
	}

	// Upstream rewrites the line the patch changes: no merge can apply it.
	editCommit(t, checkout, "mapToRoot = false", "mapToRoot = 0", "server: rework")
	c, err = ReadCheckout(ctx, checkout)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "cri-o-main")
	_, err = PrepareCheckout(ctx, c, s, dst, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "does not apply") || !strings.Contains(err.Error(), "git am -3") {
		t.Fatalf("err = %v; want one naming the patch that does not apply, also with a three-way merge", err)
	}
	if _, err := os.Stat(dst + ".stamp"); err == nil {
		t.Error("a failed preparation left a stamp")
	}
}

func TestReadCheckoutRefusesWhatIsNotACRIOCheckout(t *testing.T) {
	ctx := context.Background()
	if _, err := ReadCheckout(ctx, t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a git checkout") {
		t.Errorf("empty directory: %v", err)
	}
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "go.mod"), []byte("module example.org/other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustGitIn(t, other, "init", "-q")
	mustGitIn(t, other, "add", "-A")
	mustGitIn(t, other, "commit", "-q", "-m", "other")
	if _, err := ReadCheckout(ctx, other); err == nil || !strings.Contains(err.Error(), "not a CRI-O checkout") {
		t.Errorf("another module: %v", err)
	}
}

func TestBaseCommitRefusesMixedBases(t *testing.T) {
	dir := t.TempDir()
	var patches []string
	for i, base := range []string{strings.Repeat("a", 40), strings.Repeat("b", 40)} {
		p := filepath.Join(dir, string(rune('1'+i))+".patch")
		if err := os.WriteFile(p, []byte("Subject: x\n---\n\nbase-commit: "+base+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		patches = append(patches, p)
	}
	if _, err := (&Series{Patches: patches}).BaseCommit(); err == nil {
		t.Error("patches naming two bases: no error")
	}
	if got, err := (&Series{Patches: patches[:1]}).BaseCommit(); err != nil || got != strings.Repeat("a", 40) {
		t.Errorf("BaseCommit = %q, %v", got, err)
	}
}

// The repository's own patches/main: its patches name one base commit,
// the commit its README says the series applies to, and it is not a
// version the builds and tests cover.
func TestRepositoryMainSeries(t *testing.T) {
	root := filepath.Join("..", "..", "patches")
	s, err := LoadSeries(root, MainSeries)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Patches) == 0 {
		t.Fatal("patches/main holds no patches")
	}
	base, err := s.BaseCommit()
	if err != nil || base == "" {
		t.Fatalf("BaseCommit = %q, %v; the series must name its base (git format-patch --base)", base, err)
	}
	readme, err := os.ReadFile(filepath.Join(root, MainSeries, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "**Base commit:** CRI-O main at\n`"+base+"`") {
		t.Errorf("patches/main/README.md does not name the base commit %s as its base", base)
	}
	versions, err := ListSeries(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range versions {
		if v == MainSeries {
			t.Errorf("ListSeries lists %s: it is not a supported version", MainSeries)
		}
	}
}
