package e2e

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/crio-userns/crio-userns/internal/testenv"
)

// The patched pinns on real namespaces, driven as CRI-O drives it: a user
// namespace created without mappings (--defer-id-mappings) owns the pod's
// network namespace; pinns --join-userns joins both and waits, while its
// caller writes the mappings through pinns' /proc entries; on a line on
// standard input pinns applies the sysctls that take IDs of the namespace,
// and when standard input ends first it applies nothing.
func TestPinnsDeferredIDMappings(t *testing.T) {
	testenv.RequireRoot(t)
	pinns := filepath.Join(patched.binDir(), "pinns")
	if _, err := os.Stat(pinns); err != nil {
		t.Fatalf("patched pinns is not built: %v", err)
	}
	dir := t.TempDir()
	if out, err := exec.Command(pinns, "-d", dir, "-f", "pod", "--user", "--net", "--defer-id-mappings").CombinedOutput(); err != nil {
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

	// join starts pinns --join-userns and returns it once it is in the
	// namespaces, with what its uid_map shows.
	join := func() (*exec.Cmd, io.WriteCloser, string) {
		t.Helper()
		cmd := exec.Command(pinns, "--join-userns="+userns, "--join-net="+netns, "-s", "net.ipv4.ping_group_range=0 65535")
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
			t.Fatalf("pinns --join-userns printed %q (%v), want ready", line, err)
		}
		uidMap, err := os.ReadFile(fmt.Sprintf("/proc/%d/uid_map", cmd.Process.Pid))
		if err != nil {
			t.Fatal(err)
		}
		return cmd, stdin, strings.Join(strings.Fields(string(uidMap)), " ")
	}

	// Standard input ends: nothing applied, nothing written.
	cmd, stdin, uidMap := join()
	if uidMap != "" {
		t.Fatalf("a deferred user namespace has uid_map %q", uidMap)
	}
	stdin.Close()
	if err := cmd.Wait(); err == nil {
		t.Fatal("pinns succeeded without being told to go on")
	}

	cmd, stdin, uidMap = join()
	if uidMap != "" {
		t.Fatalf("an aborted pinns left uid_map %q", uidMap)
	}
	for file, content := range map[string]string{"gid_map": "0 300000 65536\n", "uid_map": "0 1000650000 1\n1 300001 65535\n"} {
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/%s", cmd.Process.Pid, file), []byte(content), 0o644); err != nil {
			t.Fatalf("writing %s: %v", file, err)
		}
	}
	if _, err := io.WriteString(stdin, "\n"); err != nil {
		t.Fatal(err)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("pinns after the write: %v", err)
	}

	// The next caller sees the mappings (how CRI-O recovers them after a
	// crash between the write and the save); the kernel takes no second write.
	cmd, stdin, uidMap = join()
	if uidMap != "0 1000650000 1 1 300001 65535" {
		t.Errorf("uid_map %q after the write", uidMap)
	}
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/uid_map", cmd.Process.Pid), []byte("0 1000650005 1\n"), 0o644); err == nil {
		t.Error("the kernel took a second uid_map")
	}
	stdin.Close()
	_ = cmd.Wait()

	// The sysctl that takes IDs of the namespace was set in the pod's
	// network namespace: GIDs 0-65535 of the pod are host 300000-365535.
	got, err := exec.Command("nsenter", "--net="+netns, "cat", "/proc/sys/net/ipv4/ping_group_range").Output()
	if err != nil || strings.Join(strings.Fields(string(got)), " ") != "300000 365535" {
		t.Fatalf("ping_group_range in the pod's network namespace: %q (%v)", got, err)
	}
}
