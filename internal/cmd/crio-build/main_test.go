package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
