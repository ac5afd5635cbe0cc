package accounts

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// tree builds a rootfs inside a temp dir whose parent also holds a "host"
// passwd, the file an escaping link would reach.
func tree(t *testing.T) (root, outside string) {
	t.Helper()
	base := t.TempDir()
	root = filepath.Join(base, "rootfs")
	outside = filepath.Join(base, "host-passwd")
	must(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	must(t, os.MkdirAll(filepath.Join(root, "usr/lib"), 0o755))
	must(t, os.WriteFile(outside, []byte("outside:x:1:1:::\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(root, "usr/lib/passwd"), []byte("inroot:x:2:2:::\n"), 0o644))
	return root, outside
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestReadFileInRoot(t *testing.T) {
	for _, mode := range []struct {
		name    string
		openat2 bool
	}{{"openat2", true}, {"walk", false}} {
		t.Run(mode.name, func(t *testing.T) {
			saved := useOpenat2
			useOpenat2 = mode.openat2
			defer func() { useOpenat2 = saved }()
			for _, tc := range []struct {
				name    string
				setup   func(t *testing.T, root, outside string)
				want    string // content, or
				wantErr string
				is      error
			}{
				{name: "plain file", setup: func(t *testing.T, root, _ string) {
					must(t, os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0:::\n"), 0o644))
				}, want: "root:x:0:0:::\n"},
				{name: "missing", setup: func(*testing.T, string, string) {}, is: os.ErrNotExist},
				{name: "relative link inside", setup: func(t *testing.T, root, _ string) {
					must(t, os.Symlink("../usr/lib/passwd", filepath.Join(root, "etc/passwd")))
				}, want: "inroot:x:2:2:::\n"},
				{name: "absolute link resolves in root", setup: func(t *testing.T, root, _ string) {
					must(t, os.Symlink("/usr/lib/passwd", filepath.Join(root, "etc/passwd")))
				}, want: "inroot:x:2:2:::\n"},
				{name: "absolute link to host file stays in root", setup: func(t *testing.T, root, outside string) {
					must(t, os.Symlink(outside, filepath.Join(root, "etc/passwd")))
				}, is: os.ErrNotExist},
				{name: "dotdot escape is clamped at root", setup: func(t *testing.T, root, _ string) {
					must(t, os.Symlink("../../../../../host-passwd", filepath.Join(root, "etc/passwd")))
				}, is: os.ErrNotExist},
				{name: "dotdot escape lands on the in-root file", setup: func(t *testing.T, root, _ string) {
					must(t, os.WriteFile(filepath.Join(root, "host-passwd"), []byte("clamped:x:3:3:::\n"), 0o644))
					must(t, os.Symlink("../../../../../host-passwd", filepath.Join(root, "etc/passwd")))
				}, want: "clamped:x:3:3:::\n"},
				{name: "escaping directory link", setup: func(t *testing.T, root, outside string) {
					must(t, os.Remove(filepath.Join(root, "etc")))
					must(t, os.Symlink(filepath.Dir(outside), filepath.Join(root, "etc")))
					must(t, os.WriteFile(filepath.Join(filepath.Dir(outside), "passwd"), []byte("hostetc:x:4:4:::\n"), 0o644))
				}, is: os.ErrNotExist},
				{name: "link loop", setup: func(t *testing.T, root, _ string) {
					must(t, os.Symlink("passwd", filepath.Join(root, "etc/passwd")))
				}, is: syscall.ELOOP},
				{name: "fifo is refused without blocking", setup: func(t *testing.T, root, _ string) {
					must(t, syscall.Mkfifo(filepath.Join(root, "etc/passwd"), 0o644))
				}, wantErr: "not a regular file (a FIFO)"},
				{name: "directory", setup: func(t *testing.T, root, _ string) {
					must(t, os.Mkdir(filepath.Join(root, "etc/passwd"), 0o755))
				}, wantErr: "not a regular file (a directory)"},
				{name: "magic link into the host", setup: func(t *testing.T, root, _ string) {
					must(t, os.Symlink("/proc/self/root/etc/passwd", filepath.Join(root, "etc/passwd")))
				}, is: os.ErrNotExist},
				{name: "too large", setup: func(t *testing.T, root, _ string) {
					must(t, os.WriteFile(filepath.Join(root, "etc/passwd"), make([]byte, MaxFileSize+1), 0o644))
				}, is: ErrTooLarge},
				{name: "device node is refused unopened", setup: func(t *testing.T, root, _ string) {
					// /dev/null's numbers: opening it would be harmless, but
					// the point is that it is refused from its inode.
					must(t, syscall.Mknod(filepath.Join(root, "etc/passwd"), syscall.S_IFCHR|0o644, 1<<8|3))
				}, wantErr: "not a regular file (a character device)"},
				{name: "through a file", setup: func(t *testing.T, root, _ string) {
					must(t, os.Remove(filepath.Join(root, "etc")))
					must(t, os.WriteFile(filepath.Join(root, "etc"), nil, 0o644))
				}, is: syscall.ENOTDIR},
			} {
				t.Run(tc.name, func(t *testing.T) {
					root, outside := tree(t)
					tc.setup(t, root, outside)
					got, err := ReadFileInRoot(root, "/etc/passwd")
					switch {
					case tc.is != nil:
						if !errors.Is(err, tc.is) {
							t.Fatalf("error = %v (content %q), want %v", err, got, tc.is)
						}
					case tc.wantErr != "":
						if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
							t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
						}
					default:
						if err != nil || string(got) != tc.want {
							t.Fatalf("got %q, %v; want %q", got, err, tc.want)
						}
					}
				})
			}
		})
	}
}

// A missing rootfs is a RootError, which callers must not take for a
// missing /etc/passwd.
func TestReadFileInRootMissingRoot(t *testing.T) {
	_, err := ReadFileInRoot(filepath.Join(t.TempDir(), "nope"), "/etc/passwd")
	var re *RootError
	if !errors.Is(err, os.ErrNotExist) || !errors.As(err, &re) || !strings.Contains(err.Error(), "rootfs ") || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("error = %v", err)
	}
	root, _ := tree(t)
	if _, err := ReadFileInRoot(root, "/etc/passwd"); errors.As(err, &re) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file in an existing root: %v", err)
	}
}
