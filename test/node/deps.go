package node

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// DebianDep is a file a node needs and the Debian package that ships it.
type DebianDep struct{ Path, Pkg string }

// debianDeps are the host bench's.
var debianDeps = []DebianDep{
	{"/usr/sbin/runc", "runc"},
	{"/usr/bin/conmon", "conmon"},
	{"/usr/bin/skopeo", "skopeo"},
	{"/usr/lib/cni/loopback", "containernetworking-plugins"},
	{"/usr/include/seccomp.h", "libseccomp-dev"},
	{"/bin/busybox", "busybox-static"},
	{"/usr/bin/make", "make"},
	{"/usr/bin/gcc", "gcc"},
	{"/usr/bin/pkg-config", "pkg-config"},
	{"/usr/bin/time", "time"}, // max RSS in the hook benchmarks
}

// EnsureDeps installs the Debian packages the node needs when any is missing.
func EnsureDeps(ctx context.Context, log io.Writer) error {
	return EnsurePackages(ctx, log, debianDeps)
}

// EnsurePackages installs the packages of deps whose files are missing.
// apt-get update runs first because a fresh machine has no package lists.
func EnsurePackages(ctx context.Context, log io.Writer, deps []DebianDep) error {
	var missing []string
	for _, d := range deps {
		if _, err := os.Stat(d.Path); err != nil {
			missing = append(missing, d.Pkg)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	fmt.Fprintf(log, "node: installing %s\n", strings.Join(missing, " "))
	update := exec.CommandContext(ctx, "apt-get", "update")
	update.Stdout, update.Stderr = log, log
	if err := update.Run(); err != nil {
		return fmt.Errorf("apt-get update: %w", err)
	}
	install := exec.CommandContext(ctx, "apt-get", append([]string{"install", "-y", "--no-install-recommends"}, missing...)...)
	install.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	install.Stdout, install.Stderr = log, log
	if err := install.Run(); err != nil {
		return fmt.Errorf("apt-get install %s: %w", strings.Join(missing, " "), err)
	}
	return nil
}

// SubIDEntry is the range containers/storage allocates auto user namespaces
// from: the `containers` user of /etc/subuid and /etc/subgid, as in field
// report 000's MachineConfig.
const SubIDEntry = "containers:200000:268435456"

// EnsureSubIDs makes sure /etc/subuid and /etc/subgid hold SubIDEntry. A
// different `containers` entry is an error rather than silently rewritten:
// it belongs to whoever set it.
func EnsureSubIDs(files ...string) error {
	if len(files) == 0 {
		files = []string{"/etc/subuid", "/etc/subgid"}
	}
	user := strings.SplitN(SubIDEntry, ":", 2)[0]
	for _, f := range files {
		present, err := subIDState(f, user)
		if err != nil {
			return err
		}
		switch present {
		case SubIDEntry:
			continue
		case "":
			if err := appendLine(f, SubIDEntry); err != nil {
				return fmt.Errorf("adding %s to %s: %w", SubIDEntry, f, err)
			}
		default:
			return fmt.Errorf("%s has %q, the node needs %q: fix or remove that line", f, present, SubIDEntry)
		}
	}
	return nil
}

func subIDState(file, user string) (string, error) {
	f, err := os.Open(file)
	if os.IsNotExist(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == SubIDEntry {
			return line, nil
		}
		if strings.HasPrefix(line, user+":") {
			return line, nil
		}
	}
	return "", sc.Err()
}

func appendLine(file, line string) error {
	data, err := os.ReadFile(file)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		line = "\n" + line
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(line + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
