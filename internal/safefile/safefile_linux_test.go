package safefile

import (
	"bytes"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crio-userns/crio-userns/internal/testenv"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Every hostile file is refused at once, with the path and what it is; none
// of them blocks (the test would time out).
func TestReadHostile(t *testing.T) {
	testenv.RequireRoot(t)
	dir := t.TempDir()
	path := func(n string) string { return filepath.Join(dir, n) }
	write := func(n, content string, mode os.FileMode) {
		must(t, os.WriteFile(path(n), []byte(content), mode))
		must(t, os.Chmod(path(n), mode))
	}
	write("ok", "hello\n", 0o644)
	write("group-writable", "x", 0o664)
	write("world-writable", "x", 0o646)
	write("nobody", "x", 0o644)
	must(t, os.Chown(path("nobody"), 65534, 65534))
	write("big", strings.Repeat("x", 101), 0o644)
	must(t, syscall.Mkfifo(path("fifo"), 0o600))
	must(t, os.Symlink("ok", path("link")))
	must(t, os.Symlink("nobody", path("link-to-nobody")))
	l, err := net.Listen("unix", path("sock"))
	must(t, err)
	defer l.Close()
	// A sparse file far above the limit: refused from its size, unread.
	huge, err := os.Create(path("huge"))
	must(t, err)
	must(t, huge.Truncate(10<<30))
	huge.Close()

	// A FIFO with a writer attached that never writes: open(O_RDONLY) would
	// succeed and read would wait for data forever.
	w, err := os.OpenFile(path("fifo"), os.O_RDWR, 0)
	must(t, err)
	defer w.Close()

	for _, tc := range []struct {
		name    string
		file    string
		o       Options
		want    string
		wantErr string
		is      error
		untrust bool
	}{
		{name: "regular", file: "ok", o: Options{Limit: 100, Trusted: true}, want: "hello\n"},
		{name: "symlink followed by default", file: "link", o: Options{Limit: 100, Trusted: true}, want: "hello\n"},
		{name: "symlink refused with NoFollow", file: "link", o: Options{Limit: 100, NoFollow: true}, wantErr: "link: not trusted: a symbolic link", untrust: true},
		{name: "trust is of the target", file: "link-to-nobody", o: Options{Limit: 100, Trusted: true}, wantErr: "link-to-nobody: not trusted: owned by UID 65534, not root", untrust: true},
		{name: "missing", file: "nope", o: Options{Limit: 100}, is: os.ErrNotExist},
		{name: "FIFO", file: "fifo", o: Options{Limit: 100}, wantErr: "fifo: not a regular file (a FIFO)", is: ErrNotRegular},
		{name: "socket", file: "sock", o: Options{Limit: 100}, wantErr: "sock: not a regular file (a socket)", is: ErrNotRegular},
		{name: "directory", file: ".", o: Options{Limit: 100}, wantErr: "not a regular file (a directory)", is: ErrNotRegular},
		{name: "character device", file: "/dev/zero", o: Options{Limit: 100}, wantErr: "/dev/zero: not a regular file (a character device)", is: ErrNotRegular},
		{name: "too large", file: "big", o: Options{Limit: 100}, wantErr: "big: larger than 100 bytes", is: ErrTooLarge},
		{name: "sparse 10 GiB", file: "huge", o: Options{Limit: 1 << 20}, wantErr: "huge: larger than 1048576 bytes", is: ErrTooLarge},
		{name: "group-writable untrusted", file: "group-writable", o: Options{Limit: 100, Trusted: true}, wantErr: "group-writable: not trusted: writable by group or others (mode 0664)", untrust: true},
		{name: "world-writable untrusted", file: "world-writable", o: Options{Limit: 100, Trusted: true}, wantErr: "world-writable: not trusted: writable by group or others (mode 0646)", untrust: true},
		{name: "not root's untrusted", file: "nobody", o: Options{Limit: 100, Trusted: true}, wantErr: "nobody: not trusted: owned by UID 65534, not root", untrust: true},
		{name: "untrusted is fine when trust is not asked", file: "nobody", o: Options{Limit: 100}, want: "x"},
		{name: "no limit is a bug", file: "ok", o: Options{}, wantErr: "reading without a size limit"},
		{name: "prefix of a larger file", file: "big", o: Options{Limit: 10, Prefix: true}, want: "xxxxxxxxxx"},
		{name: "prefix of a smaller file", file: "ok", o: Options{Limit: 100, Prefix: true}, want: "hello\n"},
		{name: "prefix still refuses a FIFO", file: "fifo", o: Options{Limit: 100, Prefix: true}, wantErr: "fifo: not a regular file (a FIFO)", is: ErrNotRegular},
		{name: "proc file of size 0 is read whole", file: "/proc/self/uid_map", o: Options{Limit: 64 << 10}, want: "         0          0 4294967295\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.file
			if !filepath.IsAbs(p) {
				p = path(p)
			}
			done := make(chan struct{})
			var got []byte
			var err error
			go func() { got, err = Read(p, tc.o); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Read blocked")
			}
			if tc.wantErr == "" && tc.is == nil {
				if err != nil || string(got) != tc.want {
					t.Fatalf("Read = %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Read = %q, want an error", got)
			}
			if tc.wantErr != "" && !strings.HasSuffix(err.Error(), tc.wantErr) {
				t.Errorf("error %q, want it to end in %q", err, tc.wantErr)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			var ue *UntrustedError
			if errors.As(err, &ue) != tc.untrust {
				t.Errorf("UntrustedError: %v, want %v", errors.As(err, &ue), tc.untrust)
			}
			if tc.untrust && !strings.Contains(ue.Fix(), "chown root:root "+ue.Path) {
				t.Errorf("fix %q", ue.Fix())
			}
		})
	}
}

func TestOpenAppend(t *testing.T) {
	testenv.RequireRoot(t)
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	f, err := OpenAppend(p("new.log"))
	must(t, err)
	f.WriteString("a\n")
	f.Close()
	if st, err := os.Stat(p("new.log")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("created %v %v, want mode 0600", st.Mode(), err)
	}
	must(t, syscall.Mkfifo(p("fifo"), 0o600))
	must(t, os.Symlink("new.log", p("link")))
	must(t, os.WriteFile(p("shared.log"), nil, 0o666))
	must(t, os.Chmod(p("shared.log"), 0o666))
	for name, want := range map[string]string{
		"fifo":       "fifo: not a regular file (a FIFO)",
		"link":       "link: not trusted: a symbolic link",
		"shared.log": "shared.log: not trusted: writable by group or others (mode 0666)",
	} {
		if _, err := OpenAppend(p(name)); err == nil || !strings.HasSuffix(err.Error(), want) {
			t.Errorf("OpenAppend(%s) = %v, want ...%q", name, err, want)
		}
		if name != "fifo" {
			if err := CheckTrusted(p(name)); err == nil || !strings.HasSuffix(err.Error(), want) {
				t.Errorf("CheckTrusted(%s) = %v, want ...%q", name, err, want)
			}
		}
	}
	// A FIFO with a reader: the open succeeds without blocking, the type
	// check refuses it.
	r, err := os.OpenFile(p("fifo"), os.O_RDWR, 0)
	must(t, err)
	defer r.Close()
	if _, err := OpenAppend(p("fifo")); err == nil || !strings.HasSuffix(err.Error(), "fifo: not a regular file (a FIFO)") {
		t.Errorf("FIFO with a reader: %v", err)
	}
	if err := CheckTrusted(p("fifo")); err == nil || !errors.Is(err, ErrNotRegular) {
		t.Errorf("CheckTrusted(fifo) = %v", err)
	}
	if err := CheckTrusted(p("missing")); err != nil {
		t.Errorf("CheckTrusted(missing) = %v", err)
	}
}

// readUpTo reads a file whole whatever its inode says: /proc files say 0
// (read through the scratch buffer, also past its end), a growing file
// says less than it holds; and it stops at max.
func TestReadUpTo(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name      string
		size      int
		hint, max int64
		want      int
	}{
		{"unsized, small", 66, 0, 1 << 20, 66},
		{"unsized, empty", 0, 0, 1 << 20, 0},
		{"unsized, past the scratch buffer", 40000, 0, 1 << 20, 40000},
		{"unsized, cut at max", 40000, 0, 20000, 20000},
		{"grew past its size", 5000, 10, 1 << 20, 5000},
		{"sized", 5000, 5000, 1 << 20, 5000},
		{"sized, cut at max", 5000, 5000, 4097, 4097},
	} {
		t.Run(tc.name, func(t *testing.T) {
			content := make([]byte, tc.size)
			for i := range content {
				content[i] = byte(i * 7)
			}
			p := filepath.Join(dir, "f")
			must(t, os.WriteFile(p, content, 0o600))
			f, err := os.Open(p)
			must(t, err)
			defer f.Close()
			got, pooled, err := readUpTo(int(f.Fd()), p, tc.hint, tc.max)
			if err != nil || got == nil || !bytes.Equal(got, content[:tc.want]) {
				t.Fatalf("read %d bytes (nil %v), %v; want the first %d", len(got), got == nil, err, tc.want)
			}
			if (pooled != nil) != (tc.hint == 0) {
				t.Fatalf("pooled %v for a size hint of %d", pooled != nil, tc.hint)
			}
			if pooled != nil {
				scratch.Put(pooled)
			}
		})
	}
}

// Read hands back memory of its own, even for a /proc file read through
// the pooled buffer: a later read does not change it. ReadWith parses a
// /proc file where it was read.
func TestReadOwnsWhatItReturns(t *testing.T) {
	first, err := Read("/proc/self/uid_map", Options{Limit: 64 << 10})
	must(t, err)
	want := string(first)
	for range 3 {
		if _, err := Read("/proc/self/stat", Options{Limit: 4096}); err != nil {
			t.Fatal(err)
		}
	}
	if string(first) != want {
		t.Fatalf("first read changed to %q, was %q", first, want)
	}
	var parsed string
	must(t, ReadWith("/proc/self/uid_map", Options{Limit: 64 << 10}, func(b []byte) error {
		parsed = string(b)
		return nil
	}))
	if parsed != want {
		t.Fatalf("ReadWith saw %q, want %q", parsed, want)
	}
	if err := ReadWith("/proc/self/uid_map", Options{Limit: 10}, func([]byte) error { return nil }); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("ReadWith past its limit: %v", err)
	}
	sentinel := errors.New("parse failed")
	if err := ReadWith("/proc/self/uid_map", Options{Limit: 64 << 10}, func([]byte) error { return sentinel }); err != sentinel {
		t.Fatalf("ReadWith's parse error: %v", err)
	}
}
