package vm

import (
	"github.com/crio-userns/crio-userns/test/images"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestImageKeys(t *testing.T) {
	a := DefaultImageSpec()
	b := DefaultImageSpec()
	b.Packages = append([]string{b.Packages[len(b.Packages)-1]}, b.Packages[:len(b.Packages)-1]...)
	if a.Key() != b.Key() || a.BaseKey() != b.BaseKey() {
		t.Errorf("package order changed the keys")
	}
	files := DefaultImageSpec()
	files.Files = map[string]string{"/etc/x": "y"}
	if files.BaseKey() != a.BaseKey() {
		t.Errorf("the guest's own files changed the Debian root's key: a unit change would rerun mmdebstrap")
	}
	if files.Key() == a.Key() {
		t.Errorf("the guest's own files did not change the image key")
	}
	pkgs := DefaultImageSpec()
	pkgs.Packages = append(pkgs.Packages, "jq")
	if pkgs.BaseKey() == a.BaseKey() || pkgs.Key() == a.Key() {
		t.Errorf("a package change kept a key")
	}
}

// The guest gets no route out: user networking with restrict=on, forwards
// bound to the host's loopback only, on a link-local net.
func TestQEMUArgsKeepTheGuestOffTheNetwork(t *testing.T) {
	img := &Image{Root: "/i/root.img", Kernel: "/i/vmlinuz", Initrd: "/i/initrd.img"}
	args := strings.Join(qemuArgs(Config{MemoryMiB: 1024, CPUs: 2}, img, "/s", []Share{{Path: "/a"}, {Path: "/b", Writable: true}}, 4000, 4001), " ")
	for _, want := range []string{
		"user,id=net0,restrict=on,net=169.254.77.0/24",
		"hostfwd=tcp:127.0.0.1:4000-169.254.77.15:10010",
		"hostfwd=tcp:127.0.0.1:4001-169.254.77.15:10011",
		"-accel tcg,thread=single",
		"snapshot=on",
		"-pidfile /s/qemu.pid",
		"local,path=/a,mount_tag=share0,security_model=none,readonly=on",
		"local,path=/b,mount_tag=share1,security_model=none ",
	} {
		if !strings.Contains(args+" ", want) {
			t.Errorf("qemu args lack %q:\n%s", want, args)
		}
	}
	if strings.Contains(args, "thread=multi") {
		t.Errorf("multi-threaded TCG lets a vCPU run kernel text another vCPU has live-patched: %s", args)
	}
	if strings.Contains(args, "kvm") {
		t.Errorf("KVM hangs on this machine kind: %s", args)
	}
	if strings.Count(args, "hostfwd=tcp:127.0.0.1:") != strings.Count(args, "hostfwd=") {
		t.Errorf("a forward is not bound to loopback: %s", args)
	}
}

func TestNormalizeShares(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"a/b", "c"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	got, err := normalizeShares([]Share{
		{Path: filepath.Join(root, "a", "b"), Writable: true},
		{Path: filepath.Join(root, "a")},
		{Path: filepath.Join(root, "c")},
		{Path: filepath.Join(root, "c")},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []Share{{Path: filepath.Join(root, "a"), Writable: true}, {Path: filepath.Join(root, "c")}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if _, err := normalizeShares([]Share{{Path: filepath.Join(root, "missing")}}); err == nil {
		t.Errorf("a missing directory was accepted as a share")
	}
}

func TestGuestFiles(t *testing.T) {
	files := guestFiles()
	unit := files["/etc/systemd/system/"+AgentName+".service"]
	for _, want := range []string{"DefaultDependencies=no", BootTag + " " + BootMount, "ExecStart=" + BootMount + "/" + AgentName} {
		if !strings.Contains(unit, want) {
			t.Errorf("agent unit lacks %q:\n%s", want, unit)
		}
	}
	if files["/etc/systemd/system/serial-getty@ttyS0.service"] != "->/dev/null" {
		t.Errorf("the serial getty is not masked: it hangs up the console")
	}
	root := t.TempDir()
	if err := images.WriteTree(root, files); err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink(filepath.Join(root, "etc/systemd/system/default.target")); err != nil || !strings.HasSuffix(target, "multi-user.target") {
		t.Errorf("default.target -> %q (%v)", target, err)
	}
}

func TestDpkgVersions(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "var/lib/dpkg"), 0o755)
	os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), []byte("Package: crun\nStatus: install ok installed\nVersion: 1.21-1\n\nPackage: runc\nVersion: 1.1.15\n"), 0o644)
	v, err := dpkgVersions(root)
	if err != nil || v["crun"] != "1.21-1" || v["runc"] != "1.1.15" {
		t.Errorf("%v %v", v, err)
	}
}
