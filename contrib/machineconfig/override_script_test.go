package machineconfig_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crio-userns/crio-userns/contrib/machineconfig"
)

// The unit's script runs here with stand-ins for curl, rpm, rpm-ostree and
// systemctl first on PATH: each logs its command line, and their behaviour
// comes from files in the test's directory, so each case sets up the node
// it needs (what is installed, what the server returns, what rpm-ostree
// says) and reads back what the script asked for.
const standins = `
cat >"$BIN/curl" <<'EOF'
#!/bin/bash
echo "curl $*" >>"$NODE/calls"
out=; url=
while [ $# -gt 0 ]; do case $1 in --output) out=$2; shift;; --proto|--proto-redir|--connect-timeout|--max-time) shift;; -*) ;; *) url=$1;; esac; shift; done
src="$NODE/server/$(basename "${url%%\?*}")"
[ -f "$src" ] || { echo "curl: (7) Failed to connect" >&2; exit 7; }
cp "$src" "$out"
EOF
cat >"$BIN/rpm" <<'EOF'
#!/bin/bash
echo "rpm $*" >>"$NODE/calls"
# An RPM here is a text file "NAME NEVRA"; the installed ones are $NODE/db/NAME.
case $1 in
-qp) read -r name nevra <"$4" || exit 1; case $3 in '%{NAME}\n') echo "$name";; *) echo "$nevra";; esac ;;
-q) [ -f "$NODE/db/$4" ] || { echo "package $4 is not installed"; exit 1; }; cat "$NODE/db/$4" ;;
esac
EOF
cat >"$BIN/rpm-ostree" <<'EOF'
#!/bin/bash
echo "rpm-ostree $*" >>"$NODE/calls"
[ "$1" = status ] && { echo "Deployments: (stand-in)"; exit 0; }
[ -f "$NODE/rpm-ostree.out" ] && cat "$NODE/rpm-ostree.out"
exit 0
EOF
cat >"$BIN/systemctl" <<'EOF'
#!/bin/bash
echo "systemctl $*" >>"$NODE/calls"
EOF
chmod +x "$BIN"/*
`

type fakeNode struct {
	t    *testing.T
	dir  string
	env  []string
	boot string
}

const (
	oldCRIO = "cri-o-0:1.36.3-1.rhaos4.22.el9.x86_64"
	newCRIO = "cri-o-0:1.36.3-990.userns.1.el9.x86_64"
	rpmName = "cri-o-1.36.3-990.userns.1.el9.x86_64.rpm"
)

func newFakeNode(t *testing.T) *fakeNode {
	t.Helper()
	dir := t.TempDir()
	n := &fakeNode{t: t, dir: dir, boot: "boot-1"}
	for _, d := range []string{"bin", "server", "db", "state", "root"} {
		must(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	cmd := exec.Command("bash", "-c", standins)
	cmd.Env = append(os.Environ(), "BIN="+filepath.Join(dir, "bin"), "NODE="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("stand-ins: %v\n%s", err, out)
	}
	n.install("cri-o", oldCRIO)
	n.serve(rpmName, "cri-o "+newCRIO)
	hookPath := filepath.Join(dir, "root", "usr/bin/crio-userns-hook")
	must(t, os.MkdirAll(filepath.Dir(hookPath), 0o755))
	must(t, os.WriteFile(hookPath, nil, 0o755))
	n.env = append(os.Environ(),
		"PATH="+filepath.Join(dir, "bin")+":"+os.Getenv("PATH"),
		"NODE="+dir,
		"CRIO_USERNS_OVERRIDE_STATE="+filepath.Join(dir, "state"),
		"CRIO_USERNS_BOOT_ID_FILE="+filepath.Join(dir, "boot_id"),
		"CRIO_USERNS_DOWNLOAD_ATTEMPTS=3",
		"CRIO_USERNS_RETRY_DELAY=0",
		"CRIO_RPM_URL=https://rpms.example.com/el9/"+rpmName+"?sig=1",
		"CRIO_RPM_SHA256="+n.sum(rpmName),
		"EXPECT_PATHS="+hookPath,
	)
	return n
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (n *fakeNode) install(name, nevra string) {
	must(n.t, os.WriteFile(filepath.Join(n.dir, "db", name), []byte(nevra+"\n"), 0o644))
}

func (n *fakeNode) serve(file, header string) {
	must(n.t, os.WriteFile(filepath.Join(n.dir, "server", file), []byte(header+"\n"), 0o644))
}

func (n *fakeNode) sum(file string) string {
	data, err := os.ReadFile(filepath.Join(n.dir, "server", file))
	must(n.t, err)
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

func (n *fakeNode) setenv(kv string) { n.env = append(n.env, kv) }

// run runs the script once as on a boot; it returns the exit status, its
// output and the stand-ins' calls during this run.
func (n *fakeNode) run() (code int, out string, calls []string) {
	n.t.Helper()
	must(n.t, os.WriteFile(filepath.Join(n.dir, "boot_id"), []byte(n.boot+"\n"), 0o644))
	callsFile := filepath.Join(n.dir, "calls")
	os.Remove(callsFile)
	script := filepath.Join(n.dir, "crio-userns-override")
	must(n.t, os.WriteFile(script, machineconfig.OverrideScript, 0o755))
	cmd := exec.Command(script)
	cmd.Env = n.env
	b, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		n.t.Fatal(err)
	}
	data, _ := os.ReadFile(callsFile)
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if l != "" {
			calls = append(calls, l)
		}
	}
	return code, string(b), calls
}

func count(calls []string, prefix string) int {
	n := 0
	for _, c := range calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

func TestOverrideScriptStagesAndRebootsExactlyOnce(t *testing.T) {
	n := newFakeNode(t)
	code, out, calls := n.run()
	if code == 0 || count(calls, "systemctl reboot") != 1 || count(calls, "rpm-ostree override replace") != 1 {
		t.Fatalf("first boot: exit %d, calls %q\n%s", code, calls, out)
	}
	if !strings.Contains(out, "rebooting once to activate "+newCRIO) {
		t.Errorf("output:\n%s", out)
	}
	// The unit restarted on the same boot (say by hand): no second reboot.
	code, out, calls = n.run()
	if code == 0 || count(calls, "systemctl") != 0 || count(calls, "rpm-ostree override") != 0 || count(calls, "curl") != 0 {
		t.Errorf("same boot again: exit %d, calls %q\n%s", code, calls, out)
	}
	if !strings.Contains(out, "already pending") {
		t.Errorf("output:\n%s", out)
	}
	// After the reboot the override is active: ready, no download, no reboot.
	n.boot = "boot-2"
	n.install("cri-o", newCRIO)
	code, out, calls = n.run()
	if code != 0 || count(calls, "systemctl") != 0 || count(calls, "rpm-ostree") != 0 || count(calls, "curl") != 0 {
		t.Errorf("after the reboot: exit %d, calls %q\n%s", code, calls, out)
	}
	if _, err := os.Stat(filepath.Join(n.dir, "state", "reboot-requested")); !os.IsNotExist(err) {
		t.Errorf("reboot marker left: %v", err)
	}
}

func TestOverrideScriptAlreadyInstalled(t *testing.T) {
	n := newFakeNode(t)
	n.install("cri-o", newCRIO)
	code, out, calls := n.run()
	if code != 0 || count(calls, "rpm-ostree") != 0 || count(calls, "systemctl") != 0 {
		t.Errorf("exit %d, calls %q\n%s", code, calls, out)
	}
	if !strings.Contains(out, "ready: "+newCRIO) {
		t.Errorf("output:\n%s", out)
	}
	// Installed, but the package lacks a file the manifest promises.
	n.setenv("EXPECT_PATHS=" + filepath.Join(n.dir, "root", "usr/bin/nothing"))
	if code, out, _ = n.run(); code == 0 || !strings.Contains(out, "not a crio-userns build") {
		t.Errorf("missing manifest file: exit %d\n%s", code, out)
	}
}

func TestOverrideScriptChecksumMismatch(t *testing.T) {
	n := newFakeNode(t)
	n.setenv("CRIO_RPM_SHA256=" + strings.Repeat("0", 64))
	code, out, calls := n.run()
	if code == 0 || count(calls, "rpm-ostree") != 0 || count(calls, "systemctl") != 0 || count(calls, "rpm -qp") != 0 {
		t.Errorf("exit %d, calls %q\n%s", code, calls, out)
	}
	if !strings.Contains(out, "the MachineConfig pins "+strings.Repeat("0", 64)+": refusing it") {
		t.Errorf("output:\n%s", out)
	}
	if files, _ := filepath.Glob(filepath.Join(n.dir, "state", "*.rpm*")); len(files) != 0 {
		t.Errorf("rejected download kept: %v", files)
	}
}

func TestOverrideScriptUnreachableURL(t *testing.T) {
	n := newFakeNode(t)
	must(t, os.Remove(filepath.Join(n.dir, "server", rpmName)))
	code, out, calls := n.run()
	if code == 0 || count(calls, "curl") != 3 || count(calls, "rpm-ostree") != 0 || count(calls, "systemctl") != 0 {
		t.Errorf("exit %d, calls %q\n%s", code, calls, out)
	}
	if !strings.Contains(out, "cannot download https://rpms.example.com/el9/"+rpmName+"?sig=1 after 3 attempts") ||
		!strings.Contains(out, "/etc/mco/proxy.env") || !strings.Contains(out, "CRI-O and the kubelet stay stopped") {
		t.Errorf("output:\n%s", out)
	}
}

func TestOverrideScriptNEVRAFromHeader(t *testing.T) {
	n := newFakeNode(t)
	// The file name says cri-o, the header says otherwise.
	n.serve(rpmName, "runc runc-0:1.2.0-1.el9.x86_64")
	n.setenv("CRIO_RPM_SHA256=" + n.sum(rpmName))
	code, out, calls := n.run()
	if code == 0 || count(calls, "rpm-ostree") != 0 || !strings.Contains(out, "is package runc, want cri-o") {
		t.Errorf("other package: exit %d, calls %q\n%s", code, calls, out)
	}
	// A file name with another release than the header: the header decides,
	// so once installed the node is ready (no reinstall on every boot).
	n.serve(rpmName, "cri-o cri-o-0:1.36.3-990.userns.7.el9.x86_64")
	n.setenv("CRIO_RPM_SHA256=" + n.sum(rpmName))
	n.install("cri-o", "cri-o-0:1.36.3-990.userns.7.el9.x86_64")
	if code, out, _ = n.run(); code != 0 {
		t.Errorf("header NEVRA installed: exit %d\n%s", code, out)
	}
}

func TestOverrideScriptInactiveOverride(t *testing.T) {
	// rpm-ostree says at once that the replacement is inactive.
	n := newFakeNode(t)
	must(t, os.WriteFile(filepath.Join(n.dir, "rpm-ostree.out"), []byte("Inactive base replacements:\n  cri-o-1.36.3-990.userns.1.el9.x86_64\nStaging deployment... done\n"), 0o644))
	code, out, calls := n.run()
	if code == 0 || count(calls, "systemctl") != 0 || count(calls, "rpm-ostree cleanup --pending") != 1 {
		t.Errorf("immediate: exit %d, calls %q\n%s", code, calls, out)
	}
	if !strings.Contains(out, "inactive base replacement") || !strings.Contains(out, "--mode image") {
		t.Errorf("output:\n%s", out)
	}

	// rpm-ostree stages quietly, but after the reboot the base build still runs.
	n = newFakeNode(t)
	if code, out, calls = n.run(); count(calls, "systemctl reboot") != 1 {
		t.Fatalf("first boot: exit %d, calls %q\n%s", code, calls, out)
	}
	n.boot = "boot-2"
	code, out, calls = n.run()
	if code == 0 || count(calls, "systemctl") != 0 || count(calls, "rpm-ostree override") != 0 {
		t.Errorf("after the reboot: exit %d, calls %q\n%s", code, calls, out)
	}
	if !strings.Contains(out, "the rpm-ostree override is inactive") || !strings.Contains(out, oldCRIO) || !strings.Contains(out, "Deployments: (stand-in)") {
		t.Errorf("output:\n%s", out)
	}
	// A new build in the MachineConfig starts afresh: one more reboot.
	n.serve("cri-o-1.36.3-990.userns.2.el9.x86_64.rpm", "cri-o cri-o-0:1.36.3-990.userns.2.el9.x86_64")
	n.setenv("CRIO_RPM_URL=https://rpms.example.com/el9/cri-o-1.36.3-990.userns.2.el9.x86_64.rpm")
	n.setenv("CRIO_RPM_SHA256=" + n.sum("cri-o-1.36.3-990.userns.2.el9.x86_64.rpm"))
	if code, out, calls = n.run(); count(calls, "systemctl reboot") != 1 {
		t.Errorf("new build: exit %d, calls %q\n%s", code, calls, out)
	}
}

func TestOverrideScriptHookLayeredWithOneReboot(t *testing.T) {
	n := newFakeNode(t)
	const hookRPM = "crio-userns-hook-0.1.0-1.el9.x86_64.rpm"
	n.serve(hookRPM, "crio-userns-hook crio-userns-hook-0:0.1.0-1.el9.x86_64")
	n.setenv("HOOK_RPM_URL=https://rpms.example.com/" + hookRPM)
	n.setenv("HOOK_RPM_SHA256=" + n.sum(hookRPM))
	code, out, calls := n.run()
	if code == 0 || count(calls, "rpm-ostree override replace") != 1 || count(calls, "rpm-ostree install --idempotent") != 1 || count(calls, "systemctl reboot") != 1 {
		t.Errorf("exit %d, calls %q\n%s", code, calls, out)
	}
	// Downloads are cached by checksum: the next boot fetches nothing.
	n.boot = "boot-2"
	n.install("cri-o", newCRIO)
	n.install("crio-userns-hook", "crio-userns-hook-0:0.1.0-1.el9.x86_64")
	if code, out, calls = n.run(); code != 0 || count(calls, "curl") != 0 {
		t.Errorf("second boot: exit %d, calls %q\n%s", code, calls, out)
	}
}
