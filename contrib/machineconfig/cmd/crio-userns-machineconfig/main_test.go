package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/crio-userns/crio-userns/contrib/machineconfig"
	"github.com/crio-userns/crio-userns/internal/repo"
)

const (
	exampleSHA256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	exampleURL    = "https://example.com/cri-o-1.36.3-990.userns.1.el9.x86_64.rpm"
	exampleFile   = "cri-o-1.36.3-990.userns.1.el9.x86_64.rpm"
	exampleImage  = "quay.io/example/crio-userns-rpms@sha256:" + exampleSHA256
)

var (
	overrideArgs = []string{"--mode", "override", "--role", "worker", "--cri-o-rpm", exampleURL, "--cri-o-sha256", exampleSHA256}
	imageArgs    = []string{"--mode", "image", "--role", "worker", "--cri-o-rpm", exampleFile, "--cri-o-sha256", exampleSHA256,
		"--rpm-image", exampleImage, "--push-secret", "builder-dockercfg-example"}
)

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

func examples() string { return filepath.Join(repo.MustRoot(), "contrib", "examples") }

// TestExamplesAreCurrent: contrib/examples/override-worker.yaml and
// contrib/examples/image-worker/ are what the generator writes now for the
// command line in their headers and the checkout's contrib/ files;
// regenerate them with `make machineconfig`.
func TestExamplesAreCurrent(t *testing.T) {
	path := filepath.Join(examples(), "override-worker.yaml")
	committed, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	args := headerArgs(t, path, committed)
	if !reflect.DeepEqual(args, overrideArgs) {
		t.Errorf("%s renders %q, want the worker example %q", path, args, overrideArgs)
	}
	if code, out, stderr := runCLI(t, args...); code != 0 || out != string(committed) {
		t.Errorf("%s is stale (exit %d, %s): run `make machineconfig` and commit the result", path, code, stderr)
	}

	dir := filepath.Join(examples(), "image-worker")
	committed, err = os.ReadFile(filepath.Join(dir, "machineosconfig.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	args = headerArgs(t, dir, committed)
	if !reflect.DeepEqual(args, imageArgs) {
		t.Errorf("%s renders %q, want the worker example %q", dir, args, imageArgs)
	}
	fresh := t.TempDir()
	if code, _, stderr := runCLI(t, append(args, "-o", fresh)...); code != 0 {
		t.Fatalf("regenerating %s: exit %d: %s", dir, code, stderr)
	}
	if a, b := listDir(t, dir), listDir(t, fresh); !reflect.DeepEqual(a, b) {
		t.Errorf("%s holds %v, the generator writes %v", dir, a, b)
	}
	for _, name := range listDir(t, fresh) {
		want, _ := os.ReadFile(filepath.Join(fresh, name))
		got, _ := os.ReadFile(filepath.Join(dir, name))
		if !bytes.Equal(got, want) {
			t.Errorf("%s/%s is stale: run `make machineconfig` and commit the result", dir, name)
		}
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// TestArgsRegenerate: the header of any output regenerates that output.
func TestArgsRegenerate(t *testing.T) {
	for _, args := range [][]string{
		overrideArgs,
		{"--mode", "override", "--role", "master", "--allow-control-plane", "--name", "98-master-userns", "--cri-o-rpm", "https://h/dl?id=1", "--cri-o-sha256", exampleSHA256, "--cgroupv2"},
		{"--mode", "override", "--role", "infra", "--hook-rpm", "https://h/crio-userns-hook-0.1-1.el9.x86_64.rpm", "--hook-sha256", exampleSHA256, "--subid-range", "100000:65536", "--core-subid=false"},
	} {
		code, out, stderr := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("%q: exit %d: %s", args, code, stderr)
		}
		if got := headerArgs(t, "output", []byte(out)); !reflect.DeepEqual(got, args) {
			t.Errorf("header records %q, want %q", got, args)
		}
	}
	for _, args := range [][]string{
		imageArgs,
		{"--mode", "image", "--role", "worker", "--cri-o-rpm", exampleFile, "--cri-o-sha256", exampleSHA256, "--off-cluster", "--base-image", exampleImage},
		{"--mode", "image", "--role", "infra", "--hook-rpm", "crio-userns-hook-0.1-1.el9.x86_64.rpm", "--hook-sha256", exampleSHA256, "--rpm-image", exampleImage,
			"--push-secret", "p", "--base-image-pull-secret", "q", "--push-spec", "quay.io/example/os:infra"},
	} {
		dir := t.TempDir()
		code, out, stderr := runCLI(t, append(args, "-o", dir)...)
		if code != 0 {
			t.Fatalf("%q: exit %d: %s", args, code, stderr)
		}
		data, err := os.ReadFile(filepath.Join(dir, "Containerfile"))
		if err != nil {
			t.Fatal(err)
		}
		if got := headerArgs(t, "Containerfile", data); !reflect.DeepEqual(got, args) {
			t.Errorf("header records %q, want %q", got, args)
		}
		for _, name := range listDir(t, dir) {
			if !strings.Contains(out, filepath.Join(dir, name)+": ") {
				t.Errorf("output does not name %s:\n%s", name, out)
			}
		}
	}
}

func TestOutputFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mc.yaml")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, append(overrideArgs, "-o", path)...)
	if code != 0 || stdout != path+": MachineConfig (oc apply -f)\n" {
		t.Fatalf("exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}
	_, want, _ := runCLI(t, overrideArgs...)
	got, err := os.ReadFile(path)
	if err != nil || string(got) != want {
		t.Errorf("-o wrote %d bytes (%v), want the %d of stdout", len(got), err, len(want))
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, %v", fi.Mode(), err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestExplicitContrib(t *testing.T) {
	code, out, stderr := runCLI(t, append(overrideArgs, "--contrib", filepath.Join(repo.MustRoot(), "contrib"))...)
	_, want, _ := runCLI(t, overrideArgs...)
	if code != 0 || out != want {
		t.Errorf("--contrib: exit %d: %s", code, stderr)
	}
	code, _, stderr = runCLI(t, append(overrideArgs, "--contrib", t.TempDir())...)
	if code != 1 || !strings.Contains(stderr, "reading contrib/files.manifest") {
		t.Errorf("empty --contrib: exit %d: %s", code, stderr)
	}
}

func TestExitCodes(t *testing.T) {
	ov := func(a ...string) []string { return append([]string{"--mode", "override"}, a...) }
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"-h"}, 0, "Usage: crio-userns-machineconfig"},
		{[]string{"--bogus"}, 2, "flag provided but not defined"},
		{ov("--cri-o-rpm", exampleURL, "extra"), 2, `unexpected argument "extra"`},
		{ov("--cri-o-rpm", exampleURL, "--subid-range", "200000"), 2, "--subid-range"},
		{imageArgs, 2, "image mode writes several files: -o DIR"},
		{ov("--role", "worker"), 1, "nothing to install"},
		{ov("--cri-o-rpm", exampleURL), 1, "--cri-o-sha256 is mandatory"},
		{ov("--role", "master", "--cri-o-rpm", exampleURL, "--cri-o-sha256", exampleSHA256), 1, "pass --allow-control-plane"},
		{ov("--cri-o-rpm", exampleURL, "--cri-o-sha256", exampleSHA256, "--hook-rpm", "https://h/crio-userns-hook-0.1-1.el9.x86_64.rpm", "--hook-sha256", exampleSHA256), 0, "warning: both --cri-o-rpm and --hook-rpm"},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", tc.args, code, stderr, tc.code, tc.stderr)
		}
	}
}
