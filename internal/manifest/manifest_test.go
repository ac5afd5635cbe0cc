package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crio-userns/crio-userns/internal/crio"
	"github.com/crio-userns/crio-userns/internal/crioconf"
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
	versions, err := crio.ListSeries(filepath.Join(root, "patches"))
	if err != nil || len(versions) == 0 {
		t.Fatalf("no series under patches/: %v", err)
	}
	for _, v := range versions {
		for _, e := range m.Entries {
			if e.Type == TypeDir {
				continue
			}
			if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(e.Source))); err != nil {
				t.Errorf("%s: %v", e.Path, err)
			}
			if e.Type == TypeBin {
				continue
			}
			if _, err := Content(root, v, e); err != nil {
				t.Errorf("%s for CRI-O %s: %v", e.Path, v, err)
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

func TestTextAndPaths(t *testing.T) {
	m, err := Parse([]byte("# c\ncri-o config 0644 /etc/crio/crio.conf.d/99-x.conf contrib/x.conf\ncrio-userns-hook man 0644 /usr/share/man/man8/h.8 hook/h.8\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := "cri-o config 0644 /etc/crio/crio.conf.d/99-x.conf contrib/x.conf\ncrio-userns-hook man 0644 /usr/share/man/man8/h.8 hook/h.8\n"
	if m.Text() != want {
		t.Errorf("Text:\n%s\nwant\n%s", m.Text(), want)
	}
	if got := Paths(m.For(PackageHook)); len(got) != 1 || got[0] != "/usr/share/man/man8/h.8.gz" {
		t.Errorf("hook paths %v", got)
	}
	if !m.Entries[0].Config() || m.Entries[1].Config() {
		t.Error("Config()")
	}
}

// TestContentOfTheDropIn: the drop-in's content is crioconf's for the line;
// any other entry's is its file.
func TestContentOfTheDropIn(t *testing.T) {
	root := repo.MustRoot()
	m, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	versions, err := crio.ListSeries(filepath.Join(root, "patches"))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range m.Entries {
		if e.Path != "/etc/crio/crio.conf.d/"+crioconf.Name {
			continue
		}
		found = true
		for _, v := range versions {
			got, err := Content(root, v, e)
			if err != nil {
				t.Fatal(err)
			}
			want, err := crioconf.Files(root, v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want[crioconf.Name]) {
				t.Errorf("%s: the drop-in is not crioconf's", v)
			}
		}
	}
	if !found {
		t.Errorf("the manifest does not ship /etc/crio/crio.conf.d/%s", crioconf.Name)
	}
}
