package rpmcheck

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/crio-userns/crio-userns/internal/repo"
	"github.com/crio-userns/crio-userns/internal/rpm"
)

// The specs and the checks must agree on what the binaries report, and the
// two specs must build the hook the same way (the packages share its files).
func TestSpecsAgreeWithChecks(t *testing.T) {
	root := repo.MustRoot()
	crioSpec, err := os.ReadFile(filepath.Join(root, "rpm", "cri-o.spec"))
	must(t, err)
	hookSpec, err := os.ReadFile(filepath.Join(root, "rpm", "crio-userns-hook.spec"))
	must(t, err)

	def := regexp.MustCompile(`(?m)^%define crio_userns_buildcommit (.*)$`).FindSubmatch(crioSpec)
	if def == nil {
		t.Fatal("cri-o.spec defines no crio_userns_buildcommit")
	}
	o := &rpm.Options{CrioVersion: "v1.36.3", Release: "7", Dist: ".el8"}
	expanded := strings.NewReplacer("%{version}", "1.36.3", "%{release}", "990.userns.7.el8",
		"%{crio_userns_series}", "v1.36.3", "%{crio_userns_patches}", "4", "%{crio_userns_series_sha256}", "ab12").Replace(string(def[1]))
	if got := o.BuildCommit("v1.36.3", 4, "ab12"); got != expanded {
		t.Errorf("BuildCommit = %q, cri-o.spec gives %q", got, expanded)
	}

	hookBuild := regexp.MustCompile(`(?m)^CGO_ENABLED=0 go build .*\n.*\n.*-o bin/crio-userns-hook .*$`)
	a, b := hookBuild.Find(crioSpec), hookBuild.Find(hookSpec)
	if a == nil || b == nil || !bytes.Equal(a, b) {
		t.Errorf("the specs build crio-userns-hook differently:\ncri-o.spec:\n%s\ncrio-userns-hook.spec:\n%s", a, b)
	}
	if !bytes.Contains(a, []byte("main.version=%{crio_userns_version}+git.%{crio_userns_git}")) {
		t.Errorf("the hook's version string is not what Check expects: %s", a)
	}
	for name, spec := range map[string][]byte{"cri-o": crioSpec, "crio-userns-hook": hookSpec} {
		// The manifest's entries come from the one installer, for the package's own set.
		install := regexp.MustCompile(`(?m)^PREFIX=%\{_prefix\} sh rpm/install-manifest.sh %\{buildroot\} (\S+) bin > (\S*)crio-userns.files$`).FindSubmatch(spec)
		if install == nil || string(install[1]) != name {
			t.Errorf("%s.spec does not install its manifest entries with rpm/install-manifest.sh", name)
		}
		if !regexp.MustCompile(`(?m)^%files -f crio-userns.files$`).Match(spec) {
			t.Errorf("%s.spec's %%files does not read crio-userns.files", name)
		}
	}
	for _, spec := range [][]byte{crioSpec, hookSpec} {
		if bytes.Contains(spec, []byte("_sourcedir")) {
			t.Error("a spec names %{_sourcedir}: rpmlint reports use-of-RPM_SOURCE_DIR; use %{SOURCEn}")
		}
	}
}

func TestDiffListsAndExpected(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.files.expected")
	must(t, os.WriteFile(path, []byte("# comment\n\n-rw-r--r--  cn   /etc/a\n-rwxr-xr-x - /usr/bin/b\n"), 0o644))
	want, err := ReadExpected(path)
	must(t, err)
	missing, extra := DiffLists(want, []string{"-rw-r--r-- cn /etc/a", "-rw-r--r-- - /usr/bin/b"})
	if strings.Join(missing, ",") != "-rwxr-xr-x - /usr/bin/b" || strings.Join(extra, ",") != "-rw-r--r-- - /usr/bin/b" {
		t.Errorf("missing %q extra %q", missing, extra)
	}
}

func TestNewestGlibc(t *testing.T) {
	req := "libc.so.6(GLIBC_2.2.5)(64bit)\nlibc.so.6(GLIBC_2.34)(64bit)\nlibc.so.6(GLIBC_2.4)(64bit)\nlibseccomp.so.2()(64bit)\n"
	if got := NewestGlibc(req); got != "2.34" {
		t.Errorf("NewestGlibc = %q", got)
	}
	if NewestGlibc("libseccomp.so.2()(64bit)") != "" {
		t.Error("no glibc requirement should give \"\"")
	}
	for _, c := range []struct {
		a, b string
		less bool
	}{{"2.28", "2.34", true}, {"2.4", "2.34", true}, {"2.34", "2.4", false}, {"2.34", "2.34", false}, {"2.10", "2.9", false}, {"2.3", "2.3.2", true}} {
		if versionLess(c.a, c.b) != c.less {
			t.Errorf("versionLess(%s, %s) = %v", c.a, c.b, !c.less)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
