package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/crio-userns/crio-userns/internal/cri"
)

// Config describes a node to bring up.
type Config struct {
	State   string // state directory; made absolute
	CrioDir string // directory holding the crio and pinns to run
	// DropIns are extra crio.conf.d files (NAME.conf → content), written after
	// the node's own 10-node.conf, e.g. the project's 99-crio-userns.conf.
	DropIns map[string][]byte
	// Hooks are hooks.d JSON files (NAME.json → content).
	Hooks map[string][]byte
	// LoadImages puts the test images into the node's storage before crio
	// starts; it is given the storage root and run root.
	LoadImages func(ctx context.Context, root, runRoot string) error
	PauseImage string
	Log        io.Writer

	// Runtimes are the runtime handlers, the default first; empty means
	// Debian's runc alone, which is what the host bench can run.
	Runtimes []RuntimeHandler
	// CgroupManager is CRI-O's cgroup_manager; empty means cgroupfs.
	CgroupManager string
	// Unit, if set, runs crio as this systemd unit, as an OpenShift node
	// does, instead of as a child of this process (see service.go).
	Unit string
	// PackagesInstalled skips the Debian package check: a guest image
	// carries its packages and has no network to fetch any.
	PackagesInstalled bool
}

// Node is a CRI-O daemon running under a private state directory.
type Node struct {
	Layout
	cfg    Config
	pid    int
	exited chan struct{} // closed when a crio this process started exits
}

// DefaultPauseImage is the image crio creates sandbox storage from even when
// it drops the infra container (it never runs it then).
const DefaultPauseImage = "localhost/crio-userns/pause:latest"

// Up prepares the state directory and starts crio. It installs missing Debian
// packages and ensures the subordinate ID ranges first, so it works on a
// fresh machine.
func Up(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.PauseImage == "" {
		cfg.PauseImage = DefaultPauseImage
	}
	state, err := filepath.Abs(cfg.State)
	if err != nil {
		return nil, err
	}
	cfg.State = state
	n := &Node{Layout: Layout{State: state}, cfg: cfg}
	if pid, ok := n.readPID(); ok {
		return nil, fmt.Errorf("a node is already running in %s (crio pid %d): bring it down first", state, pid)
	}
	if !cfg.PackagesInstalled {
		if err := EnsureDeps(ctx, cfg.Log); err != nil {
			return nil, err
		}
	}
	if err := EnsureSubIDs(); err != nil {
		return nil, err
	}
	if err := n.install(); err != nil {
		return nil, err
	}
	if err := WriteConfig(n.settings(), cfg.DropIns); err != nil {
		return nil, err
	}
	if err := n.writeHooks(); err != nil {
		return nil, err
	}
	if cfg.LoadImages != nil {
		if err := cfg.LoadImages(ctx, n.StorageRoot(), n.RunRoot()); err != nil {
			return nil, fmt.Errorf("loading test images: %w", err)
		}
	}
	if err := n.Start(ctx); err != nil {
		return nil, err
	}
	return n, nil
}

// Attach finds the node running in state, for a process that did not start it.
func Attach(state string) (*Node, error) {
	abs, err := filepath.Abs(state)
	if err != nil {
		return nil, err
	}
	n := &Node{Layout: Layout{State: abs}}
	if pid, ok := n.readPID(); ok {
		n.pid = pid
	}
	return n, nil
}

func (n *Node) settings() Settings {
	runtimes := n.cfg.Runtimes
	if len(runtimes) == 0 {
		runtimes = []RuntimeHandler{{Name: "runc", Path: "/usr/sbin/runc"}}
	}
	return Settings{
		Layout:        n.Layout,
		Pinns:         filepath.Join(n.Bin(), "pinns"),
		Runtime:       runtimes[0].Name,
		RuntimeBin:    runtimes[0].Path,
		OtherRuntimes: runtimes[1:],
		CgroupManager: n.cfg.CgroupManager,
		Conmon:        "/usr/bin/conmon",
		PauseImage:    n.cfg.PauseImage,
		LogLevel:      "info",
		DropInfra:     true,
	}
}

// install copies crio and pinns into the state dir: a rebuild while the node
// runs cannot change what it runs, and the PID check can trust the path.
func (n *Node) install() error {
	if err := os.MkdirAll(n.Bin(), 0o755); err != nil {
		return err
	}
	for _, b := range []string{"crio", "pinns"} {
		src := filepath.Join(n.cfg.CrioDir, b)
		if err := n.installFrom(src, filepath.Join(n.Bin(), b)); err != nil {
			return fmt.Errorf("installing %s into the node (build it with `make crio`): %w", src, err)
		}
	}
	return nil
}

// installFrom links dst to a copy of src kept under the state directory by
// src's path, size and modification time, copying only when there is none:
// nodes of different flavours take turns on one state directory in the
// guest, where a copy of crio over a 9p share takes most of a minute under
// TCG. A hard link keeps /proc/PID/exe equal to dst.
func (n *Node) installFrom(src, dst string) error {
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%d\x00%d", src, st.Size(), st.ModTime().UnixNano())))
	cached := filepath.Join(n.State, "bin-cache", hex.EncodeToString(sum[:8]), filepath.Base(dst))
	if _, err := os.Stat(cached); err != nil {
		if err := os.MkdirAll(filepath.Dir(cached), 0o755); err != nil {
			return err
		}
		if err := copyExecutable(src, cached); err != nil {
			return err
		}
	}
	_ = os.Remove(dst)
	if err := os.Link(cached, dst); err != nil {
		return copyExecutable(cached, dst)
	}
	return nil
}

func (n *Node) writeHooks() error {
	if err := os.RemoveAll(n.HooksDir()); err != nil {
		return err
	}
	if err := os.MkdirAll(n.HooksDir(), 0o755); err != nil {
		return err
	}
	for name, content := range n.cfg.Hooks {
		if filepath.Base(name) != name || filepath.Ext(name) != ".json" {
			return fmt.Errorf("hook file name %q: want a plain NAME.json", name)
		}
		if err := os.WriteFile(filepath.Join(n.HooksDir(), name), content, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Start launches crio and waits until it answers on its socket.
func (n *Node) Start(ctx context.Context) error {
	if pid, ok := n.readPID(); ok {
		return fmt.Errorf("crio already running (pid %d)", pid)
	}
	if n.cfg.Unit != "" {
		return n.startUnit(ctx)
	}
	logFile, err := os.OpenFile(n.CrioLog(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	offset, _ := logFile.Seek(0, io.SeekEnd)

	cmd := exec.Command(filepath.Join(n.Bin(), "crio"),
		"--config", n.ConfigFile(), "--config-dir", n.DropInDir(),
		"--registries-conf", n.Registries(), "--registries-conf-dir", n.RegistriesDir())
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own session: crio outlives `make node-up` and a ^C there.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting crio: %w", err)
	}
	n.pid = cmd.Process.Pid
	n.exited = make(chan struct{})
	go func(exited chan struct{}) { _ = cmd.Wait(); close(exited) }(n.exited)
	if err := os.WriteFile(n.PIDFile(), []byte(strconv.Itoa(n.pid)+"\n"), 0o644); err != nil {
		return err
	}

	client, err := cri.Dial(n.Socket())
	if err != nil {
		return err
	}
	defer client.Close()
	readyCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	_, err = client.WaitReady(readyCtx, func() error {
		select {
		case <-n.exited:
			return errors.New("crio exited")
		default:
			return nil
		}
	})
	if err != nil {
		return fmt.Errorf("crio (pid %d) is not ready: %w\n--- %s (new lines):\n%s", n.pid, err, n.CrioLog(), logSince(n.CrioLog(), offset, 30))
	}
	return nil
}

// PID is crio's process ID, or 0 when it is not running.
func (n *Node) PID() int {
	if pid, ok := n.readPID(); ok {
		return pid
	}
	return 0
}

// Stop ends crio with sig (SIGTERM for a clean shutdown, SIGKILL to simulate
// a crash) and waits for it to be gone. Pods stay as they are.
func (n *Node) Stop(sig syscall.Signal) error {
	pid, ok := n.readPID()
	if !ok {
		return nil
	}
	err := n.signalAndWait(pid, sig, 30*time.Second)
	if n.exited != nil {
		<-n.exited
	}
	if n.cfg.Unit != "" {
		err = errors.Join(err, n.stopUnit())
	}
	_ = os.Remove(n.PIDFile())
	return err
}

// Restart stops crio with sig and starts it again on the same state.
func (n *Node) Restart(ctx context.Context, sig syscall.Signal) error {
	if err := n.Stop(sig); err != nil {
		return err
	}
	return n.Start(ctx)
}

// Client dials the node's CRI socket.
func (n *Node) Client() (*cri.Client, error) { return cri.Dial(n.Socket()) }

// Down removes every pod, stops crio, unmounts everything under the state
// dir and reports what, if anything, was left behind. Image layers stay so
// the next Up is fast; Purge removes them too.
func (n *Node) Down(ctx context.Context) (*Leftovers, error) {
	var errs []error
	var known []int
	if _, ok := n.readPID(); !ok {
		// Pods left by a crashed crio can only be removed through crio.
		if leftover, _ := storageContainers(n.StorageRoot()); len(leftover) > 0 && fileExists(filepath.Join(n.Bin(), "crio")) {
			if err := n.Start(ctx); err != nil {
				errs = append(errs, fmt.Errorf("restarting crio to remove its pods: %w", err))
			}
		}
	}
	if _, ok := n.readPID(); ok {
		client, err := n.Client()
		if err != nil {
			return nil, err
		}
		if pids, err := client.ContainerPIDs(ctx); err == nil {
			for _, p := range pids {
				known = append(known, p)
			}
		}
		if _, err := client.RemovePods(ctx, nil); err != nil {
			errs = append(errs, err)
		}
		client.Close()
		if err := n.Stop(syscall.SIGTERM); err != nil {
			errs = append(errs, err)
		}
	}
	if err := unmountAll(n.State); err != nil {
		errs = append(errs, err)
	}
	left, err := n.FindLeftovers(known)
	if err != nil {
		errs = append(errs, err)
	}
	return left, errors.Join(errs...)
}

// Purge deletes the state directory of a node that is down.
func (n *Node) Purge() error {
	if pid, ok := n.readPID(); ok {
		return fmt.Errorf("crio (pid %d) still running in %s", pid, n.State)
	}
	if err := unmountAll(n.State); err != nil {
		return err
	}
	return os.RemoveAll(n.State)
}

func copyExecutable(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	tmp := dst + ".new"
	if err := os.WriteFile(tmp, data, 0o755); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func logSince(path string, offset int64, lines int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return err.Error()
	}
	data, _ := io.ReadAll(f)
	parts := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}
