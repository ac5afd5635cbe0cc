package app

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

func runValidateIn(t *testing.T, f *fixture, extra ...string) (int, string, string) {
	t.Helper()
	f.write()
	args := append([]string{"validate", "--bundle", f.bundle, "--policy", filepath.Join(f.dir, "policy.toml")}, extra...)
	var stdout, stderr bytes.Buffer
	code := Main(args, Options{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr})
	return code, stdout.String(), stderr.String()
}

func TestValidate(t *testing.T) {
	t.Run("clean bundle", func(t *testing.T) {
		f := newFixture(t)
		code, out, _ := runValidateIn(t, f)
		for _, want := range []string{
			"container: proj/web/app\n",
			"check 1 structure          ok\n",
			"check 5 live-maps          skipped: no container process offline (checked by the hook at container start)\n",
			"check 7 cross-pod-overlap  ok (0 running containers registered in " + f.regDir + ")\n",
			"result:    0 error(s), 0 warning(s)\n",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if code != 0 {
			t.Errorf("exit %d", code)
		}
	})
	t.Run("field report 004: nobody outside a 65534 map", func(t *testing.T) {
		f := newFixture(t)
		f.spec.Linux.UIDMappings = uidMaps(0, 200000, 65534)
		code, out, _ := runValidateIn(t, f)
		want := "check 6 image-accounts     WARN image accounts outside the uid_map (0 200000 65534): nobody (UID 65534)\n" +
			"                                fix: map container IDs 0-65534 (a size of at least 65535, e.g. userns-mode \"auto:size=65536\"), or drop the accounts from the image\n"
		if code != 0 || !strings.Contains(out, want) || !strings.Contains(out, "result:    0 error(s), 1 warning(s)") {
			t.Errorf("exit %d, output:\n%s", code, out)
		}
	})
	t.Run("conflict with a registered pod, read only", func(t *testing.T) {
		f := newFixture(t)
		f.register("other", "db", "pg", 5000, true, uidMaps(0, 200000, 10), uidMaps(0, 900000, 10))
		before, _ := os.ReadFile(filepath.Join(f.regDir, "registry"))
		code, out, _ := runValidateIn(t, f, "--proc-root", f.procRoot)
		if code != 1 || !strings.Contains(out, "check 7 cross-pod-overlap  FAIL host UIDs 200000-200009 of uid_map extent #1 (0 200000 65536) are already used by pod other/db (container pg, extent 0 200000 10)") {
			t.Errorf("exit %d, output:\n%s", code, out)
		}
		after, _ := os.ReadFile(filepath.Join(f.regDir, "registry"))
		if !bytes.Equal(before, after) {
			t.Error("validate wrote the registry")
		}
	})
	t.Run("native user namespace", func(t *testing.T) {
		f := newFixture(t)
		f.native(1 << 31)
		code, out, _ := runValidateIn(t, f)
		for _, want := range []string{
			"userns:    native (hostUsers: false): the kubelet's block, no userns-mode annotation; the kubelet's range is allowed\n",
			"check 3 allowed-ranges     ok\n",
		} {
			if code != 0 || !strings.Contains(out, want) {
				t.Errorf("exit %d, output lacks %q:\n%s", code, want, out)
			}
		}
	})
	t.Run("annotation userns", func(t *testing.T) {
		f := newFixture(t)
		f.spec.Annotations["io.kubernetes.cri-o.userns-mode"] = "auto:size=65536"
		code, out, _ := runValidateIn(t, f)
		if want := "userns:    io.kubernetes.cri-o.userns-mode annotation \"auto:size=65536\"\n"; code != 0 || !strings.Contains(out, want) {
			t.Errorf("exit %d, output lacks %q:\n%s", code, want, out)
		}
	})
	t.Run("no user namespace", func(t *testing.T) {
		f := newFixture(t)
		f.noUserns()
		code, out, _ := runValidateIn(t, f)
		if code != 0 || !strings.Contains(out, "userns:    none (the host's)\ncheck 8 writable-cgroup    ok\ncheck 9 pod-user-namespace ok\nresult:    0 error(s), 0 warning(s)") {
			t.Errorf("exit %d, output:\n%s", code, out)
		}
	})
	t.Run("joined namespace without maps", func(t *testing.T) {
		f := newFixture(t)
		f.spec.Linux.Namespaces[3].Path = "/run/pin"
		f.spec.Linux.UIDMappings, f.spec.Linux.GIDMappings = nil, nil
		code, out, _ := runValidateIn(t, f)
		if code != 0 || !strings.Contains(out, "note:      config.json joins /run/pin without listing its maps; checks on them run at container start") {
			t.Errorf("exit %d, output:\n%s", code, out)
		}
	})
	t.Run("audit mode still exits 1", func(t *testing.T) {
		f := newFixture(t)
		f.policy += "mode = \"audit\"\n"
		f.spec.Linux.UIDMappings = uidMaps(0, 0, 65536)
		code, out, _ := runValidateIn(t, f)
		if code != 1 || !strings.Contains(out, "audit mode: the hook would log and let it run") {
			t.Errorf("exit %d, output:\n%s", code, out)
		}
	})
	t.Run("missing bundle", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		code := Main([]string{"validate", "--bundle", "/nonexistent"}, Options{Stdout: &stdout, Stderr: &stderr})
		if want := "crio-userns-hook validate: reading the bundle's config.json: open /nonexistent/config.json: no such file or directory; pass an OCI bundle directory (one with config.json)\n"; code != 1 || stderr.String() != want {
			t.Errorf("exit %d, stderr %q", code, stderr.String())
		}
	})
	t.Run("usage", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if code := Main([]string{"validate"}, Options{Stdout: &stdout, Stderr: &stderr}); code != 2 || !strings.Contains(stderr.String(), "validate: --bundle DIR is required") {
			t.Errorf("exit %d, stderr %q", code, stderr.String())
		}
		if code := Main([]string{"lint"}, Options{Stdout: &stdout, Stderr: &stderr}); code != 2 || !strings.Contains(stderr.String(), `unknown command "lint"`) {
			t.Errorf("exit %d, stderr %q", code, stderr.String())
		}
	})
}

func TestSyslogHook(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	h, err := dialSyslog(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	log := logrus.New()
	log.Out = &bytes.Buffer{}
	log.Formatter = &logrus.JSONFormatter{}
	log.AddHook(h)
	log.WithField("check", "host-root").Error("container refused")
	buf := make([]byte, 4096)
	l.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, err := l.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	msg := string(buf[:n])
	if !strings.HasPrefix(msg, "<83>") || !strings.Contains(msg, " crio-userns-hook[") || !strings.Contains(msg, `"check":"host-root"`) {
		t.Fatalf("syslog message %q", msg)
	}
	if _, err := dialSyslog(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Fatal("dial of a missing socket succeeded")
	}
}
