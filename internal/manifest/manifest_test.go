package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crio-userns/crio-userns/internal/crio"
	"github.com/crio-userns/crio-userns/internal/repo"
)

// TestCheckoutManifest: the committed manifest parses, every source exists
// in the checkout for every supported CRI-O version, and both packages ship
// the hook.
func TestCheckoutManifest(t *testing.T) {
	root := repo.MustRoot()
	m, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	versions := crio.ListSeries(filepath.Join(root, "patches"))
	if len(versions) == 0 {
		t.Fatal("no series under patches/")
	}
	for _, v := range versions {
		r, err := m.Resolve(v)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range r.Entries {
			if e.Type == TypeDir {
				continue
			}
			if strings.Contains(e.Source, "{") {
				t.Errorf("%s: %s: unresolved source %s", v, e.Path, e.Source)
			}
			if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(e.Source))); err != nil {
				t.Errorf("%s: %s: %v", v, e.Path, err)
			}
		}
	}
	for _, pkg := range []string{PackageCrio, PackageHook} {
		found := false
		for _, e := range m.For(pkg) {
			if e.Path == "/usr/bin/crio-userns-hook" && e.Type == TypeBin {
				found = true
			}
		}
		if !found {
			t.Errorf("%s does not ship /usr/bin/crio-userns-hook", pkg)
		}
	}
	if len(m.For(PackageHook)) >= len(m.For(PackageCrio)) {
		t.Errorf("cri-o ships %d entries, the hook package %d: cri-o must ship more", len(m.For(PackageCrio)), len(m.For(PackageHook)))
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"", "no entries"},
		{"cri-o file 0644 /usr/lib/x\n", "want 5 fields"},
		{"runc file 0644 /usr/lib/x a\n", `package "runc"`},
		{"cri-o blob 0644 /usr/lib/x a\n", `type "blob"`},
		{"cri-o file 644 /usr/lib/x a\n", "four octal digits"},
		{"cri-o file 0844 /usr/lib/x a\n", "four octal digits"},
		{"cri-o file 0644 usr/lib/x a\n", "clean absolute path"},
		{"cri-o file 0644 /usr/lib/../x a\n", "clean absolute path"},
		{"cri-o file 0644 /usr/lib/x ../a\n", "clean path in the checkout"},
		{"cri-o file 0644 /usr/lib/x -\n", "clean path in the checkout"},
		{"cri-o dir 0755 /usr/lib/x a\n", "no source"},
		{"cri-o config 0644 /usr/lib/x a\n", "not under /etc"},
		{"cri-o file 0644 /etc/x a\n", "not config"},
		{"cri-o file 0644 /usr/lib/x a\ncri-o file 0644 /usr/lib/x b\n", "also on line 1"},
		{"cri-o dir 0755 /usr/lib/d -\ncrio-userns-hook file 0644 /usr/lib/d/x a\n", "its directory only by cri-o"},
	} {
		_, err := Parse([]byte(tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.text, err, tc.want)
		}
	}
}

func TestResolveAndText(t *testing.T) {
	m, err := Parse([]byte("# c\ncri-o config 0644 /etc/crio/crio.conf.d/99-x.conf " + DropInPlaceholder + "\ncrio-userns-hook man 0644 /usr/share/man/man8/h.8 hook/h.8\n"))
	if err != nil {
		t.Fatal(err)
	}
	old := DropInSource
	defer func() { DropInSource = old }()
	DropInSource = func(v string) (string, error) { return "contrib/crio.conf.d/" + v + ".conf", nil }
	r, err := m.Resolve("v1.34.0")
	if err != nil {
		t.Fatal(err)
	}
	want := "cri-o config 0644 /etc/crio/crio.conf.d/99-x.conf contrib/crio.conf.d/v1.34.0.conf\ncrio-userns-hook man 0644 /usr/share/man/man8/h.8 hook/h.8\n"
	if r.Text() != want {
		t.Errorf("Text:\n%s\nwant\n%s", r.Text(), want)
	}
	if m.Entries[0].Source != DropInPlaceholder {
		t.Error("Resolve changed the original")
	}
	if got := Paths(r.For(PackageHook)); len(got) != 1 || got[0] != "/usr/share/man/man8/h.8.gz" {
		t.Errorf("hook paths %v", got)
	}
	if !r.Entries[0].Config() || r.Entries[1].Config() {
		t.Error("Config()")
	}
}
