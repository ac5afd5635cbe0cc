package rpmcheck

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/crio-userns/crio-userns/internal/crio"
	"github.com/crio-userns/crio-userns/internal/repo"
)

// TestParityListPerLine: every supported CRI-O line has its parity list,
// and each parses.
func TestParityListPerLine(t *testing.T) {
	root := repo.MustRoot()
	versions, err := crio.ListSeries(filepath.Join(root, "patches"))
	if err != nil || len(versions) == 0 {
		t.Fatalf("no series: %v", err)
	}
	for _, v := range versions {
		p, err := ReadParity(ParityFile(root, v))
		if err != nil {
			t.Errorf("%s: %v", v, err)
			continue
		}
		for _, must := range []string{"/usr/libexec/crio/unshare.json", "/usr/lib/tmpfiles.d/crio.conf", "/usr/lib/sysusers.d/crio.conf",
			"/usr/lib/systemd/system/crio-subid.service", "/etc/crio/seccomp.json"} {
			if _, excluded := p.Excluded[must]; !excluded && !contains(p.Files, must) {
				t.Errorf("%s: the parity list lacks %s", v, must)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestParityCompare(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cri-o-1.36.parity")
	must(t, os.WriteFile(path, []byte(`# c
file /usr/bin/crio
config /etc/crio/crio.conf
file /usr/libexec/crio/unshare.json
file /usr/lib/x.conf
exclude /usr/lib/x.conf nobody needs it here
require conmon >= 2.0.2-2
require shadow-utils
provide ocid
`), 0o644))
	p, err := ReadParity(path)
	must(t, err)
	files := []string{"-rwxr-xr-x - /usr/bin/crio", "-rw-r--r-- - /etc/crio/crio.conf"}
	got := p.Compare(files, []string{"conmon  >= 2.0.2-2", "libc.so.6()(64bit)"}, []string{"ocid = 1.36.3-990", "cri-o = 1.36.3"})
	want := []string{
		"config /etc/crio/crio.conf (shipped, but not %config(noreplace))",
		"file /usr/libexec/crio/unshare.json",
		"require shadow-utils",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("missing %q, want %q", got, want)
	}
	files = append(files[:1], "-rw-r--r-- cn /etc/crio/crio.conf", "-rw-r--r-- - /usr/libexec/crio/unshare.json")
	if got := p.Compare(files, []string{"conmon >= 2.0.2-2", "shadow-utils"}, []string{"ocid = 1"}); len(got) != 0 {
		t.Errorf("complete package: missing %q", got)
	}
	for _, bad := range []string{"exclude /x\n", "file relative\n", "ship /x\n", "file\n"} {
		must(t, os.WriteFile(path, []byte(bad), 0o644))
		if _, err := ReadParity(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
