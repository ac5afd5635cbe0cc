package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crio-userns/crio-userns/internal/crio"
)

// crio-build -list and -default are what the Makefile reads the supported
// versions from: numeric order, patches/main left out, a bad directory an
// error (make must stop rather than test fewer versions).
func TestListAndDefault(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "crio-build")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	patches := t.TempDir()
	for _, d := range []string{"v1.36.3", "v1.4.0", "v1.35.2", "main"} {
		if err := os.MkdirAll(filepath.Join(patches, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) (string, error) {
		out, err := exec.Command(bin, append([]string{"-patches", patches}, args...)...).CombinedOutput()
		return string(out), err
	}
	if out, err := run("-list"); err != nil || out != "v1.4.0\nv1.35.2\nv1.36.3\n" {
		t.Errorf("-list: %q, %v", out, err)
	}
	if out, err := run("-default"); err != nil || out != "v1.36.3\n" {
		t.Errorf("-default: %q, %v", out, err)
	}
	if err := os.MkdirAll(filepath.Join(patches, "v1.37"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := run("-list"); err == nil || !strings.Contains(out, "v1.37") {
		t.Errorf("-list with a malformed series directory: %q, %v; want an error naming it", out, err)
	}
}

// make series without CRIO_SRC says plainly that patches/main was not
// checked; with it, the series is applied to the checkout's HEAD in a
// scratch clone under the output directory.
func TestCheckMain(t *testing.T) {
	ctx := context.Background()
	gitIn := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.org"}, args...)...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	checkout := t.TempDir()
	if err := os.WriteFile(filepath.Join(checkout, "go.mod"), []byte("module "+crio.ModulePath+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitIn(checkout, "init", "-q")
	gitIn(checkout, "add", "-A")
	gitIn(checkout, "commit", "-q", "-m", "base")
	// One patch adding a file, exported with its base as crio-build -export does.
	work := t.TempDir()
	gitIn(work, "clone", "-q", checkout, ".")
	if err := os.WriteFile(filepath.Join(work, "NEW"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitIn(work, "add", "NEW")
	gitIn(work, "commit", "-q", "-m", "add NEW")
	patches := t.TempDir()
	gitIn(work, "format-patch", "-q", "--base=HEAD~1", "-o", filepath.Join(patches, crio.MainSeries), "HEAD~1")

	output := t.TempDir()
	out := captureStdout(t, func() error { return checkMain(ctx, patches, output, "", io.Discard) })
	if !strings.Contains(out, "NOT CHECKED") || !strings.Contains(out, "CRIO_SRC=DIR") {
		t.Errorf("without a checkout: %q; want a line saying that patches/main was not checked and how to check it", out)
	}

	out = captureStdout(t, func() error { return checkMain(ctx, patches, output, checkout, io.Discard) })
	if !strings.Contains(out, "written against this commit") || !strings.Contains(out, "applies to "+checkout) {
		t.Errorf("with a checkout: %q", out)
	}
	if _, err := os.Stat(filepath.Join(output, "src", "cri-o-main", "NEW")); err != nil {
		t.Errorf("the series is not applied in the scratch clone: %v", err)
	}
	if _, err := os.Stat(filepath.Join(checkout, "NEW")); err == nil {
		t.Error("the series was applied to the checkout itself")
	}
}

func captureStdout(t *testing.T, f func() error) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		data, _ := io.ReadAll(r)
		done <- string(data)
	}()
	ferr := f()
	os.Stdout = saved
	w.Close()
	out := <-done
	if ferr != nil {
		t.Fatalf("%v\n%s", ferr, out)
	}
	return out
}
