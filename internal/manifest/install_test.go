package manifest

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/crio-userns/crio-userns/internal/crio"
	"github.com/crio-userns/crio-userns/internal/repo"
)

// TestInstallScript: rpm/install-manifest.sh, which both RPM specs and `make
// install` run, installs exactly the manifest's entries of a package with
// their modes and the checkout's bytes, and prints one %files line per entry.
func TestInstallScript(t *testing.T) {
	root := repo.MustRoot()
	m, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	version, err := crio.DefaultSeries(filepath.Join(root, "patches"))
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "crio-userns-hook"), []byte("#!/bin/sh\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, pkg := range []string{PackageHook, PackageCrio} {
		dest := t.TempDir()
		cmd := exec.Command("sh", "rpm/install-manifest.sh", dest, pkg, bin)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "PREFIX=/usr")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s", pkg, err, stderr.String())
		}
		var wantLines, wantPaths []string
		for _, e := range m.For(pkg) {
			line := e.PackagedPath()
			switch e.Type {
			case TypeDir:
				line = "%dir " + line
			case TypeConfig:
				line = "%config(noreplace) " + line
			}
			wantLines = append(wantLines, line)
			wantPaths = append(wantPaths, e.PackagedPath())
			info, err := os.Stat(filepath.Join(dest, e.PackagedPath()))
			if err != nil {
				t.Errorf("%s: %v", pkg, err)
				continue
			}
			if info.Mode().Perm() != e.Mode.Perm() {
				t.Errorf("%s: %s mode %v, want %v", pkg, e.Path, info.Mode().Perm(), e.Mode.Perm())
			}
			if e.Type == TypeFile || e.Type == TypeConfig {
				got, _ := os.ReadFile(filepath.Join(dest, e.Path))
				want, _ := os.ReadFile(filepath.Join(root, e.Source))
				if !bytes.Equal(got, want) {
					t.Errorf("%s: %s is not %s", pkg, e.Path, e.Source)
				}
				if _, err := Content(root, version, e); err != nil {
					t.Errorf("%s: content for %s: %v", e.Path, version, err)
				}
			}
		}
		if got := strings.Split(strings.TrimSpace(string(out)), "\n"); !reflect.DeepEqual(got, wantLines) {
			t.Errorf("%s: %%files lines\n%q\nwant\n%q", pkg, got, wantLines)
		}
		var installed []string
		filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				installed = append(installed, strings.TrimPrefix(p, dest))
			}
			return nil
		})
		var files []string
		for _, e := range m.For(pkg) {
			if e.Type != TypeDir {
				files = append(files, e.PackagedPath())
			}
		}
		sort.Strings(files)
		sort.Strings(installed)
		if !reflect.DeepEqual(installed, files) {
			t.Errorf("%s: installed %q, want %q", pkg, installed, files)
		}
	}
}
