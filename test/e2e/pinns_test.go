package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/crio-userns/crio-userns/internal/testenv"
)

// The patched pinns on real namespaces: a user namespace created without
// mappings (--defer-id-mappings) keeps a network namespace it owns; the
// staged --write-id-mappings prints what the namespace holds, writes nothing
// when its standard input ends, writes what it is sent, then prints the
// written mappings to the next caller (which is how CRI-O recovers them after
// a crash between the write and the save), and refuses different ones.
func TestPinnsDeferredIDMappings(t *testing.T) {
	testenv.RequireRoot(t)
	pinns := filepath.Join(patched.binDir(), "pinns")
	if _, err := os.Stat(pinns); err != nil {
		t.Fatalf("patched pinns is not built: %v", err)
	}
	dir := t.TempDir()
	run := func(stdin string, args ...string) (string, error) {
		cmd := exec.Command(pinns, args...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("", "-d", dir, "-f", "pod", "--user", "--net", "--defer-id-mappings"); err != nil {
		t.Fatalf("pinns --defer-id-mappings: %v\n%s", err, out)
	}
	userns, netns := filepath.Join(dir, "userns", "pod"), filepath.Join(dir, "netns", "pod")
	t.Cleanup(func() {
		for _, p := range []string{userns, netns} {
			if err := unix.Unmount(p, unix.MNT_DETACH); err != nil {
				t.Errorf("unmounting %s: %v", p, err)
			}
		}
	})
	write := []string{"--write-id-mappings=" + userns, "--join-net=" + netns, "-s", "net.ipv4.ping_group_range=0 65535"}
	const mappings = "0-1000650000-1@1-300001-65535@ 0-300000-65536@"

	out, err := run("", write...)
	if err == nil || !strings.HasPrefix(out, " \n") || !strings.Contains(out, "No ID mappings given") {
		t.Fatalf("aborted write: err %v, output %q: want the empty mappings and nothing written", err, out)
	}
	if out, err := run(mappings+"\n", write...); err != nil || out != " \n" {
		t.Fatalf("write: err %v, output %q", err, out)
	}
	out, err = run(mappings+"\n", write...)
	if err != nil || out != mappings+"\n" {
		t.Fatalf("the same mappings again: err %v, output %q, want %q printed and accepted", err, out, mappings)
	}
	out, err = run("0-1000650005-1@1-300001-65535@ 0-300000-65536@\n", write...)
	if err == nil || !strings.Contains(out, "already written with different mappings") {
		t.Fatalf("different mappings: err %v, output %q, want a refusal", err, out)
	}
	// The sysctl that takes IDs of the namespace was set in the pod's
	// network namespace: GIDs 0-65535 of the pod are host 300000-365535.
	got, err := exec.Command("nsenter", "--net="+netns, "cat", "/proc/sys/net/ipv4/ping_group_range").Output()
	if err != nil || strings.Join(strings.Fields(string(got)), " ") != "300000 365535" {
		t.Fatalf("ping_group_range in the pod's network namespace: %q (%v)", got, err)
	}
}
