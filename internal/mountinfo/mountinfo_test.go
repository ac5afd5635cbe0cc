package mountinfo

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/crio-userns/crio-userns/internal/testenv"
)

func TestParseMountInfo(t *testing.T) {
	in := `22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
98 22 254:0 /tmp/s/root/overlay /tmp/s/root/overlay rw,relatime - ext4 /dev/vda rw
99 22 0:50 / /tmp/with\040space\134x rw shared:7 master:3 - tmpfs tmpfs rw
100 22 0:51 / /mnt/no-optional rw - proc proc rw
`
	got, err := ParseMountInfo(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Mount{
		{22, "/", "ext4"},
		{98, "/tmp/s/root/overlay", "ext4"},
		{99, `/tmp/with space\x`, "tmpfs"},
		{100, "/mnt/no-optional", "proc"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	for _, bad := range []string{"22 1 254:0 / / rw\n", "x 1 254:0 / / rw - ext4 /dev/vda rw\n"} {
		if _, err := ParseMountInfo(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseMountInfo(%q) accepted a malformed line", bad)
		}
	}
}

func TestIsUnder(t *testing.T) {
	tests := []struct {
		path, dir string
		want      bool
	}{
		{"/s/root", "/s/root", true},
		{"/s/root/overlay", "/s/root", true},
		{"/s/root/overlay", "/s/root/", true},
		{"/s/rootless", "/s/root", false},
		{"/s", "/s/root", false},
	}
	for _, tt := range tests {
		if got := isUnder(tt.path, tt.dir); got != tt.want {
			t.Errorf("isUnder(%q, %q) = %v, want %v", tt.path, tt.dir, got, tt.want)
		}
	}
}

// TestUnmountUnder stacks and nests mounts the way a store ends up with them
// and checks that all go, and that unmountNew spares the pre-existing ones.
func TestUnmountUnder(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	t.Cleanup(func() { UnmountUnder(root) })
	a := filepath.Join(root, "a")
	b := filepath.Join(a, "b")
	mount := func(target string) {
		t.Helper()
		if err := os.MkdirAll(target, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mount("tmpfs", target, "tmpfs", 0, "size=1m"); err != nil {
			t.Fatalf("mount tmpfs on %s: %v", target, err)
		}
	}
	mount(a)
	before, err := MountsUnder(root)
	if err != nil {
		t.Fatal(err)
	}
	mount(b)
	mount(b) // stacked on itself, as repeated bind mounts are
	after, err := MountsUnder(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 3 {
		t.Fatalf("mounts under %s: %+v, want 3", root, after)
	}
	done, err := UnmountNew(before, after)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(done, []string{b, b}) {
		t.Errorf("unmountNew unmounted %q, want %s twice", done, b)
	}
	left, err := MountsUnder(root)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(left, before) {
		t.Errorf("after unmountNew: %+v, want the earlier %+v", left, before)
	}
	mount(b)
	if done, err := UnmountUnder(root); err != nil || len(done) != 2 {
		t.Errorf("UnmountUnder: %q, %v; want 2 unmounts", done, err)
	}
	if left, _ := MountsUnder(root); len(left) != 0 {
		t.Errorf("mounts left: %+v", left)
	}
}

func TestMountsAt(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	t.Cleanup(func() { UnmountUnder(root) })
	home := filepath.Join(root, "overlay")
	below := filepath.Join(home, "id", "merged")
	for _, target := range []string{home, below} {
		if err := os.MkdirAll(target, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mount("tmpfs", target, "tmpfs", 0, "size=1m"); err != nil {
			t.Fatalf("mount tmpfs on %s: %v", target, err)
		}
		if target == home {
			os.MkdirAll(below, 0o755)
		}
	}
	at, err := MountsAt(home)
	if err != nil {
		t.Fatal(err)
	}
	if len(at) != 1 || at[0].MountPoint != home {
		t.Errorf("MountsAt(%s) = %+v, want only the home mount, not %s", home, at, below)
	}
}
