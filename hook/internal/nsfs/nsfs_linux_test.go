package nsfs

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/crio-userns/crio-userns/internal/testenv"
)

// A network namespace created together with a user namespace is owned by
// it; the host's network namespace by the host's user namespace.
func TestOwner(t *testing.T) {
	testenv.RequireRoot(t)
	host, err := Stat("/proc/self/ns/user")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Owner("/proc/self/ns/net"); err != nil || got != host {
		t.Fatalf("Owner(own netns) = %v, %v; want %v", got, err, host)
	}
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 200000, Size: 65536}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 200000, Size: 65536}},
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	child := fmt.Sprintf("/proc/%d/ns/", cmd.Process.Pid)
	userns, err := Stat(child + "user")
	if err != nil || userns == host {
		t.Fatalf("child's user namespace %v, %v", userns, err)
	}
	if got, err := Owner(child + "net"); err != nil || got != userns {
		t.Fatalf("Owner(child netns) = %v, %v; want %v", got, err, userns)
	}
	// Hostile paths: refused without being opened for reading.
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fifo, "/dev/zero", dir} {
		if _, err := Owner(p); !errors.Is(err, ErrNotNamespace) {
			t.Errorf("Owner(%s) = %v, want ErrNotNamespace", p, err)
		}
	}
	if _, err := Owner(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
}
