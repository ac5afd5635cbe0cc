package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/crio-userns/crio-userns/contrib/machineconfig"
	"github.com/crio-userns/crio-userns/internal/repo"
)

const exampleCRIO = "https://example.com/cri-o-1.36.3-990.userns.1.el9.x86_64.rpm"

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// headerArgs returns the command line recorded in the second header line.
func headerArgs(t *testing.T, path string, data []byte) []string {
	t.Helper()
	lines := strings.SplitN(string(data), "\n", 3)
	prefix := "#   " + machineconfig.Command + " "
	if len(lines) < 3 || !strings.HasPrefix(lines[1], prefix) {
		t.Fatalf("%s: second line %q is not %q followed by the flags", path, lines[1], prefix)
	}
	return strings.Fields(strings.TrimPrefix(lines[1], prefix))
}

// TestExamplesAreCurrent: every committed contrib/examples/machineconfig-*.yaml
// is what the generator makes now from the command line in its header and
// the checkout's contrib/ files; regenerate with `make machineconfig`.
func TestExamplesAreCurrent(t *testing.T) {
	examples, err := filepath.Glob(filepath.Join(repo.MustRoot(), "contrib", "examples", "machineconfig-*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, path := range examples {
		committed, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		args := headerArgs(t, path, committed)
		if reflect.DeepEqual(args, []string{"--role", "worker", "--cri-o-rpm", exampleCRIO}) {
			found = true
		}
		code, out, stderr := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("%s: regenerating with %q: exit %d: %s", path, args, code, stderr)
		}
		if out != string(committed) {
			t.Errorf("%s is stale: the generator now writes something else for %q and the current contrib/ files; run `make machineconfig` and commit the result", filepath.Base(path), args)
		}
	}
	if !found {
		t.Errorf("no contrib/examples/machineconfig-*.yaml for --role worker --cri-o-rpm %s", exampleCRIO)
	}
}

// TestArgsRegenerate: the header of any output regenerates that output.
func TestArgsRegenerate(t *testing.T) {
	for _, args := range [][]string{
		{"--role", "worker", "--cri-o-rpm", exampleCRIO},
		{"--role", "master", "--name", "98-master-userns", "--cri-o-rpm", "https://h/dl?id=1", "--cri-o-nevra", "cri-o-1.36.3-990.el9.x86_64", "--cgroupv2"},
		{"--role", "infra", "--hook-rpm", "https://h/crio-userns-hook-0.1-1.el9.x86_64.rpm", "--subid-range", "100000:65536", "--core-subid=false"},
	} {
		code, out, stderr := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("%q: exit %d: %s", args, code, stderr)
		}
		if got := headerArgs(t, "output", []byte(out)); !reflect.DeepEqual(got, args) {
			t.Errorf("header records %q, want %q", got, args)
		}
	}
}

func TestOutputFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mc.yaml")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "--role", "worker", "--cri-o-rpm", exampleCRIO, "-o", path)
	if code != 0 || stdout != "" {
		t.Fatalf("exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}
	_, want, _ := runCLI(t, "--role", "worker", "--cri-o-rpm", exampleCRIO)
	got, err := os.ReadFile(path)
	if err != nil || string(got) != want {
		t.Errorf("-o wrote %d bytes (%v), want the %d of stdout", len(got), err, len(want))
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, %v", fi.Mode(), err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestExplicitContrib(t *testing.T) {
	code, out, stderr := runCLI(t, "--role", "worker", "--cri-o-rpm", exampleCRIO, "--contrib", filepath.Join(repo.MustRoot(), "contrib"))
	_, want, _ := runCLI(t, "--role", "worker", "--cri-o-rpm", exampleCRIO)
	if code != 0 || out != want {
		t.Errorf("--contrib: exit %d: %s", code, stderr)
	}
	code, _, stderr = runCLI(t, "--role", "worker", "--cri-o-rpm", exampleCRIO, "--contrib", t.TempDir())
	if code != 1 || !strings.Contains(stderr, "reading contrib/crio.conf.d/99-crio-userns.conf") {
		t.Errorf("empty --contrib: exit %d: %s", code, stderr)
	}
}

func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"-h"}, 0, "Usage: crio-userns-machineconfig"},
		{[]string{"--bogus"}, 2, "flag provided but not defined"},
		{[]string{"--cri-o-rpm", exampleCRIO, "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"--cri-o-rpm", exampleCRIO, "--subid-range", "200000"}, 2, "--subid-range"},
		{[]string{"--role", "worker"}, 1, "nothing to install"},
		{[]string{"--cri-o-rpm", "https://example.com/latest.rpm"}, 1, "pass --cri-o-nevra cri-o-VERSION-RELEASE.ARCH"},
		{[]string{"--cri-o-rpm", exampleCRIO, "--hook-rpm", "https://h/crio-userns-hook-0.1-1.el9.x86_64.rpm"}, 0, "warning: both --cri-o-rpm and --hook-rpm"},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", tc.args, code, stderr, tc.code, tc.stderr)
		}
	}
}
