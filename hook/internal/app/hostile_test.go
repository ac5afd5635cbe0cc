package app

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/crio-userns/crio-userns/internal/testenv"
)

// Every step of a run, the report included, is under the deadline: a step
// that never returns (a FIFO, a held lock, a stalled /proc or audit log) still
// gives the verdict in time, and first on stderr.
func TestEveryStepUnderTheDeadline(t *testing.T) {
	stall := make(chan struct{})
	defer close(stall)
	for _, tc := range []struct {
		step     string
		setup    func(f *fixture)
		wantCode int
		// wantLine is the first stderr line; for a stall after the verdict
		// the verdict line stays first.
		wantLine string
	}{
		{step: "reading config.json", wantCode: 1,
			wantLine: "crio-userns-hook: -/-/ctr-app: timed out after 2s while reading config.json; " + fixTimeout},
		{step: "identifying the container's user namespace", wantCode: 1,
			wantLine: pfx + "timed out after 2s while identifying the container's user namespace; " + fixTimeout},
		{step: "reading the pod's namespaces", wantCode: 1,
			wantLine: pfx + "timed out after 2s while reading the pod's namespaces; " + fixTimeout},
		{step: "loading the policy", wantCode: 1,
			wantLine: pfx + "timed out after 2s while loading the policy; " + fixTimeout},
		{step: "reading the live maps", wantCode: 1,
			wantLine: pfx + "timed out after 300ms while reading the live maps; " + fixTimeout},
		{step: "image-accounts", wantCode: 1,
			wantLine: pfx + "timed out after 300ms while image-accounts; " + fixTimeout},
		{step: "checking other pods' user namespaces", wantCode: 1,
			wantLine: pfx + "timed out after 300ms while checking other pods' user namespaces; " + fixTimeout},
		{step: "looking the pod up in the registry", wantCode: 1,
			setup:    func(f *fixture) { f.noUserns() },
			wantLine: pfx + "timed out after 300ms while looking the pod up in the registry; " + fixTimeout},
		{step: "recording the user namespace", wantCode: 1,
			wantLine: pfx + "timed out after 300ms while recording the user namespace; " + fixTimeout},
		{step: "writing the audit log", wantCode: 1,
			setup:    func(f *fixture) { f.spec.Linux.UIDMappings = uidMaps(0, 0, 65536) },
			wantLine: pfx + "uid_map extent #1 (0 0 65536) maps host UID 0 (root) to container UID 0; " + fixRoot},
		{step: "writing the audit log", wantCode: 0,
			setup: func(f *fixture) {
				f.policy += "mode = \"audit\"\n"
				f.spec.Linux.UIDMappings = uidMaps(0, 0, 65536)
			},
			wantLine: pfx + "timed out after 300ms while writing the audit log, after the verdict; " + fixTimeout},
	} {
		t.Run(tc.step, func(t *testing.T) {
			testStepHook = func(step string) {
				if step == tc.step {
					<-stall
				}
			}
			defer func() { testStepHook = nil }()
			f := newFixture(t)
			f.policy += "timeout = \"300ms\"\n"
			if tc.setup != nil {
				tc.setup(f)
			}
			start := time.Now()
			code, stderr := f.run()
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %s", d)
			}
			if code != tc.wantCode || firstLine(stderr) != strings.ReplaceAll(tc.wantLine, "DIR", f.dir) {
				t.Errorf("exit %d, first line:\n got: %s\nwant: %s", code, firstLine(stderr), tc.wantLine)
			}
			if tc.step == "writing the audit log" && tc.wantCode == 1 && !strings.Contains(stderr, "timed out after 300ms while writing the audit log, after the verdict") {
				t.Errorf("no word of the stalled audit log:\n%s", stderr)
			}
		})
	}
}

// Hostile configuration: what only root should write is refused when
// anyone else could have written it, even when it would let a container
// through (audit mode), and what is not a regular file is refused without
// blocking. The message names the file and the fix.
func TestHostileConfiguration(t *testing.T) {
	testenv.RequireRoot(t)
	const fixOwner = "make FILE owned by root and writable only by root (chown root:root FILE; chmod go-w FILE); user-namespaced containers are refused until then"
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, f *fixture) string // returns the file the message names
		want  string
	}{
		{name: "policy owned by nobody switching to audit", setup: func(t *testing.T, f *fixture) string {
			f.policy += "mode = \"audit\"\n"
			f.afterWrite = func() { mustT(t, os.Chown(filepath.Join(f.dir, "policy.toml"), 65534, 65534)) }
			return filepath.Join(f.dir, "policy.toml")
		}, want: pfx + "policy FILE: not trusted: owned by UID 65534, not root; " + fixOwner},
		{name: "world-writable policy", setup: func(t *testing.T, f *fixture) string {
			f.policy += "mode = \"audit\"\n"
			f.afterWrite = func() { mustT(t, os.Chmod(filepath.Join(f.dir, "policy.toml"), 0o666)) }
			return filepath.Join(f.dir, "policy.toml")
		}, want: pfx + "policy FILE: not trusted: writable by group or others (mode 0666); " + fixOwner},
		{name: "group-writable subuid file", setup: func(t *testing.T, f *fixture) string {
			f.files["etc/subuid"] = "containers:200000:268435456\n"
			f.afterWrite = func() { mustT(t, os.Chmod(filepath.Join(f.dir, "etc/subuid"), 0o664)) }
			return filepath.Join(f.dir, "etc/subuid")
		}, want: pfx + "policy: FILE: not trusted: writable by group or others (mode 0664); " + fixOwner},
		{name: "subgid file owned by nobody", setup: func(t *testing.T, f *fixture) string {
			f.files["etc/subgid"] = "containers:200000:268435456\n"
			f.afterWrite = func() { mustT(t, os.Chown(filepath.Join(f.dir, "etc/subgid"), 65534, 0)) }
			return filepath.Join(f.dir, "etc/subgid")
		}, want: pfx + "policy: FILE: not trusted: owned by UID 65534, not root; " + fixOwner},
		{name: "subuid file a FIFO", setup: func(t *testing.T, f *fixture) string {
			f.afterWrite = func() { mustT(t, syscall.Mkfifo(filepath.Join(f.dir, "etc/subuid"), 0o600)) }
			return filepath.Join(f.dir, "etc/subuid")
		}, want: pfx + "policy: FILE: not a regular file (a FIFO); fix the file; user-namespaced containers are refused until then"},
		{name: "policy a character device", setup: func(t *testing.T, f *fixture) string {
			f.args = []string{"--policy", "/dev/zero"}
			return "/dev/zero"
		}, want: pfx + "policy FILE: not a regular file (a character device); fix the policy file (see crio-userns-hook(8)); user-namespaced containers are refused until then"},
		{name: "policy a sparse 16 GiB file", setup: func(t *testing.T, f *fixture) string {
			f.afterWrite = func() { mustT(t, os.Truncate(filepath.Join(f.dir, "policy.toml"), 16<<30)) }
			return filepath.Join(f.dir, "policy.toml")
		}, want: pfx + "policy FILE: larger than 1048576 bytes; fix the policy file (see crio-userns-hook(8)); user-namespaced containers are refused until then"},
		{name: "audit log a FIFO", setup: func(t *testing.T, f *fixture) string {
			f.afterWrite = func() { mustT(t, syscall.Mkfifo(f.auditLog, 0o600)) }
			return f.auditLog
		}, want: pfx + `audit_log FILE: not a regular file (a FIFO); point audit_log at a regular file owned by root, or set it to "syslog" or "none"; user-namespaced containers are refused until then`},
		{name: "audit log a symbolic link", setup: func(t *testing.T, f *fixture) string {
			f.afterWrite = func() { mustT(t, os.Symlink("/etc/shadow", f.auditLog)) }
			return f.auditLog
		}, want: pfx + "audit_log FILE: not trusted: a symbolic link; make FILE owned by root and writable only by root (chown root:root FILE; chmod go-w FILE); user-namespaced containers are refused until then"},
		{name: "audit log world-writable", setup: func(t *testing.T, f *fixture) string {
			f.afterWrite = func() {
				mustT(t, os.WriteFile(f.auditLog, nil, 0o666))
				mustT(t, os.Chmod(f.auditLog, 0o666))
			}
			return f.auditLog
		}, want: pfx + "audit_log FILE: not trusted: writable by group or others (mode 0666); " + fixOwner},
		{name: "audit log a device", setup: func(t *testing.T, f *fixture) string {
			f.policy = strings.Replace(f.policy, "audit_log = \""+f.auditLog+"\"", "audit_log = \"/dev/null\"", 1)
			return "/dev/null"
		}, want: pfx + `audit_log FILE: not a regular file (a character device); point audit_log at a regular file owned by root, or set it to "syslog" or "none"; user-namespaced containers are refused until then`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			// The container maps host root: anything that let it through
			// would be the attack.
			f.spec.Linux.UIDMappings = uidMaps(0, 0, 65536)
			file := tc.setup(t, f)
			code, stderr := f.run()
			want := strings.ReplaceAll(tc.want, "FILE", file)
			if code != 1 || firstLine(stderr) != want {
				t.Errorf("exit %d, first line:\n got: %s\nwant: %s", code, firstLine(stderr), want)
			}
		})
	}
}

// An audit-mode finding with a FIFO that a reader holds open as audit_log:
// refused at policy load with the reason, not hung and not silently let
// through.
func TestAuditLogFIFOWithReader(t *testing.T) {
	f := newFixture(t)
	f.policy += "mode = \"audit\"\n"
	f.spec.Linux.UIDMappings = uidMaps(0, 0, 65536)
	mustT(t, syscall.Mkfifo(f.auditLog, 0o600))
	r, err := os.OpenFile(f.auditLog, os.O_RDWR, 0)
	mustT(t, err)
	defer r.Close()
	code, stderr := f.run()
	if want := pfx + "audit_log " + f.auditLog + ": not a regular file (a FIFO)"; code != 1 || !strings.HasPrefix(stderr, want) {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
}

// A syslog daemon that does not read: records are dropped, the verdict
// stands and comes in time.
func TestSyslogFullDoesNotBlock(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	mustT(t, err)
	defer l.Close()
	h, err := dialSyslog(sock)
	mustT(t, err)
	defer h.Close()
	log := newTestLogger(h)
	done := make(chan struct{})
	go func() {
		for range 10000 {
			log.WithField("check", "host-root").Error(strings.Repeat("x", 1000))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("writing to a full syslog socket blocked")
	}
	if h.dropped == 0 {
		t.Error("no record dropped: the socket never filled?")
	}
}

// Flags before the subcommand are honoured, and conflicting ones refused.
func TestFlagsBeforeValidate(t *testing.T) {
	f := newFixture(t)
	f.spec.Linux.UIDMappings = uidMaps(0, 0, 65536)
	f.write()
	pol := filepath.Join(f.dir, "policy.toml")
	for _, tc := range []struct {
		args     []string
		wantCode int
		want     string
	}{
		{[]string{"--policy", pol, "validate", "--bundle", f.bundle}, 1, "policy:    " + pol + ", mode enforce"},
		{[]string{"--policy", pol, "--proc-root", f.procRoot, "validate", "--bundle", f.bundle}, 1, "policy:    " + pol + ", mode enforce"},
		{[]string{"validate", "--bundle", f.bundle, "--policy", pol}, 1, "policy:    " + pol + ", mode enforce"},
		{[]string{"--policy", pol, "validate", "--bundle", f.bundle, "--policy", pol}, 1, "policy:    " + pol + ", mode enforce"},
		{[]string{"--policy", "/nonexistent", "validate", "--bundle", f.bundle, "--policy", pol}, 2,
			`crio-userns-hook: -/-/-: usage: --policy given twice, "/nonexistent" before validate and "` + pol + `" after it`},
		{[]string{"--policy", "/nonexistent", "validate", "--bundle", f.bundle}, 1,
			"crio-userns-hook validate: policy /nonexistent: open /nonexistent: no such file or directory"},
	} {
		var stdout, stderr bytes.Buffer
		code := Main(tc.args, Options{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr})
		if code != tc.wantCode || !strings.Contains(stdout.String()+stderr.String(), tc.want) {
			t.Errorf("%q: exit %d, want %d and %q in:\n%s%s", tc.args, code, tc.wantCode, tc.want, stdout.String(), stderr.String())
		}
	}
}

func newTestLogger(h logrus.Hook) *logrus.Logger {
	log := logrus.New()
	log.Out = io.Discard
	log.AddHook(h)
	return log
}
