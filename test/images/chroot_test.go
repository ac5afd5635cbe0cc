package images

// TestImagesRunInChroot runs the built images' own root filesystems, without
// CRI-O: the layers are unpacked and their entrypoints and the field reports'
// commands run chrooted, as root and as the image's other accounts. It catches
// what a digest cannot: a broken symlink, a missing passwd entry, a binary that
// needs a loader the image does not have.

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/crio-userns/crio-userns/internal/testenv"
	"github.com/crio-userns/crio-userns/test/images/ocilayout"
)

func TestImagesRunInChroot(t *testing.T) {
	testenv.RequireRoot(t)
	requireBuildTools(t)
	imgs, err := Build(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rootfs := map[string]string{}
	for _, img := range imgs {
		rootfs[img.Ref] = unpack(t, img)
	}

	t.Run("fedora-standin", func(t *testing.T) {
		root := rootfs[RefFedoraStandin]
		tests := []struct {
			argv     []string
			uid, gid uint32
			want     string
		}{
			{[]string{"/bin/id"}, 0, 0, "uid=0(root) gid=0(root) groups=0(root)"},
			{[]string{"/bin/id"}, 8, 12, "uid=8(mail) gid=12(mail) groups=12(mail)"},
			{[]string{"/bin/whoami"}, 65534, 65534, "nobody"},
			{[]string{"/bin/id", "-un"}, 11, 0, "operator"},
			// sleep and cat as bare names, found by the shell on the image's PATH.
			{[]string{"/bin/sh", "-c", "sleep 0 && echo slept | cat"}, 2, 2, "slept"},
			{[]string{"/bin/sh", "-c", "echo $PATH; cat /etc/group | grep -c :"}, 0, 0, "/usr/local/bin:/usr/bin:/bin\n4"},
			{[]string{"/usr/bin/env", "sh", "-c", "echo ok >/tmp/x && cat /tmp/x"}, 2, 2, "ok"},
		}
		for _, tt := range tests {
			got := runChrooted(t, root, tt.argv, "PATH=/usr/local/bin:/usr/bin:/bin", tt.uid, tt.gid)
			if got != tt.want {
				t.Errorf("%q as %d:%d printed %q, want %q", tt.argv, tt.uid, tt.gid, got, tt.want)
			}
		}
	})

	t.Run("usernstest", func(t *testing.T) {
		root := rootfs[RefUsernstest]
		// The experiment reads /proc/self and re-executes /proc/self/exe.
		proc := filepath.Join(root, "proc")
		if err := unix.Mount("proc", proc, "proc", 0, ""); err != nil {
			t.Fatalf("mounting proc on %s: %v", proc, err)
		}
		t.Cleanup(func() { unix.Unmount(proc, unix.MNT_DETACH) })
		// Without USERNSTEST_PASSWD: the image's own /etc/passwd decides.
		out := runChrooted(t, root, []string{UsernstestPath}, "PATH=/usr/bin:/bin", 0, 0)
		lines := strings.Split(out, "\n")
		if want := "SUMMARY switched=5/5 root=ok daemon=ok operator=ok nobody=ok mail=ok"; lines[len(lines)-1] != want {
			t.Errorf("last line %q, want %q\n%s", lines[len(lines)-1], want, out)
		}
		if !strings.Contains(out, "CHILD user=mail want=8:12 setgid=ok setuid=ok result=ok") {
			t.Errorf("mail is not Fedora's 8:12:\n%s", out)
		}
	})

	t.Run("pause", func(t *testing.T) {
		cmd := &exec.Cmd{Path: PauseCommand, Args: []string{PauseCommand}, Dir: "/",
			SysProcAttr: &syscall.SysProcAttr{Chroot: rootfs[RefPause]}}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		time.Sleep(200 * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("pause: %v, want exit 0", err)
			}
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			t.Fatal("pause ignored SIGTERM")
		}
	})
}

func runChrooted(t *testing.T, root string, argv []string, path string, uid, gid uint32) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Path = argv[0] // a path inside the chroot; exec.Command would look it up on the host
	cmd.Dir = "/"
	cmd.Env = []string{path}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Chroot:     root,
		Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{gid}},
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("%q as %d:%d in %s: %v\n%s", argv, uid, gid, root, err, out)
	}
	return strings.TrimSpace(string(out))
}

// unpack extracts img's single layer into a new directory, as a container
// runtime's storage would.
func unpack(t *testing.T, img Image) string {
	t.Helper()
	res, err := ocilayout.Read(img.Layout, img.Tag)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	// Everyone must be able to reach the rootfs: processes run as daemon etc.
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for dir := filepath.Dir(root); dir != os.TempDir() && dir != "/"; dir = filepath.Dir(dir) {
		os.Chmod(dir, 0o755)
	}
	f, err := os.Open(filepath.Join(img.Layout, "blobs", "sha256", strings.TrimPrefix(res.Layer.Digest, "sha256:")))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return root
		}
		if err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(root, hdr.Name)
		mode := os.FileMode(hdr.Mode).Perm()
		switch hdr.Typeflag {
		case tar.TypeDir:
			err = os.Mkdir(target, mode)
		case tar.TypeSymlink:
			err = os.Symlink(hdr.Linkname, target)
		case tar.TypeReg:
			var out *os.File
			if out, err = os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_EXCL, mode); err == nil {
				_, err = io.Copy(out, tr)
				out.Close()
			}
		default:
			t.Fatalf("%s: unexpected tar type %c", hdr.Name, hdr.Typeflag)
		}
		if err != nil {
			t.Fatalf("unpacking %s: %v", hdr.Name, err)
		}
		if hdr.Typeflag != tar.TypeSymlink {
			// Mkdir and OpenFile apply the umask and drop the sticky bit.
			if err := unix.Chmod(target, uint32(hdr.Mode)); err != nil {
				t.Fatal(err)
			}
		}
	}
}
