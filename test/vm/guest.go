package vm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/crio-userns/crio-userns/internal/command"
	"github.com/crio-userns/crio-userns/internal/repo"
)

// Config describes a guest to boot.
type Config struct {
	// State is the guest's directory on the host: sockets, console log,
	// QEMU's PID file, the boot share. Made absolute.
	State string
	// ImageCache is where guest images are built and kept (_output/vm).
	ImageCache string
	// Shares are host directories the guest sees at the same paths.
	Shares []Share
	// MemoryMiB and CPUs size the guest; zero means 4096 and 2.
	MemoryMiB, CPUs int
	Log             io.Writer
}

// Share is a host directory mounted at the same path in the guest.
type Share struct {
	Path     string
	Writable bool
}

// Layout of the state directory.
func criSocket(state string) string   { return filepath.Join(state, "crio.sock") }
func agentSocket(state string) string { return filepath.Join(state, AgentSocketName) }
func pidFile(state string) string     { return filepath.Join(state, "qemu.pid") }
func consoleLog(state string) string  { return filepath.Join(state, "console.log") }
func bootDir(state string) string     { return filepath.Join(state, "boot") }

// Guest is a running guest node, booted by this process.
type Guest struct {
	State string
	Image *Image
	Agent *Agent
	// BootTook is from starting QEMU to the agent's first answer.
	BootTook time.Duration
	Ping     *Ping

	qemuPID   int
	qemuDone  chan struct{}
	qemuErr   error
	listeners []net.Listener
	closeOnce sync.Once
}

// Socket is the guest's CRI socket on the host.
func (g *Guest) Socket() string { return criSocket(g.State) }

// ConsoleLog is the guest's serial console, for diagnosis.
func (g *Guest) ConsoleLog() string { return consoleLog(g.State) }

// Boot builds (or reuses) the guest image, starts QEMU and waits until the
// guest's agent answers through the forwarded socket. The guest lives as
// long as this process, or until Shutdown.
func Boot(ctx context.Context, cfg Config) (*Guest, error) {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.MemoryMiB == 0 {
		cfg.MemoryMiB = 4096
	}
	if cfg.CPUs == 0 {
		cfg.CPUs = 2
	}
	state, err := filepath.Abs(cfg.State)
	if err != nil {
		return nil, err
	}
	if pid, ok := runningQEMU(state); ok {
		return nil, fmt.Errorf("a guest is already running in %s (qemu pid %d): bring it down first", state, pid)
	}
	if err := EnsureDeps(ctx, cfg.Log); err != nil {
		return nil, err
	}
	img, err := BuildImage(ctx, DefaultImageSpec(), cfg.ImageCache, cfg.Log)
	if err != nil {
		return nil, err
	}
	for _, p := range []string{criSocket(state), agentSocket(state), consoleLog(state)} {
		_ = os.Remove(p)
	}
	if err := os.MkdirAll(bootDir(state), 0o755); err != nil {
		return nil, err
	}
	if err := buildAgent(ctx, bootDir(state), cfg.Log); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(podLogRoot(state), 0o755); err != nil {
		return nil, err
	}
	shares, err := normalizeShares(append(cfg.Shares, Share{Path: podLogRoot(state), Writable: true}))
	if err != nil {
		return nil, err
	}
	boot := BootConfig{}
	for i, s := range shares {
		boot.Shares = append(boot.Shares, MountRequest{Tag: fmt.Sprintf("share%d", i), Path: s.Path, ReadOnly: !s.Writable})
	}
	data, _ := json.MarshalIndent(boot, "", "  ")
	if err := os.WriteFile(filepath.Join(bootDir(state), BootConfigName), data, 0o644); err != nil {
		return nil, err
	}

	g := &Guest{State: state, Image: img, qemuDone: make(chan struct{})}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	args := qemuArgs(cfg, img, state, shares, ports[0], ports[1])
	start := time.Now()
	if err := g.startQEMU(args); err != nil {
		return nil, err
	}
	fmt.Fprintf(cfg.Log, "vm: qemu pid %d booting %s (console %s)\n", g.qemuPID, img.Key, consoleLog(state))
	for _, fw := range []struct {
		socket string
		port   int
	}{{criSocket(state), ports[0]}, {agentSocket(state), ports[1]}} {
		l, err := relayUnixToTCP(fw.socket, fmt.Sprintf("127.0.0.1:%d", fw.port))
		if err != nil {
			_ = g.kill()
			return nil, err
		}
		g.listeners = append(g.listeners, l)
	}
	g.Agent = NewAgent(agentSocket(state))
	bootCtx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	for {
		pingCtx, pcancel := context.WithTimeout(bootCtx, 5*time.Second)
		p, err := g.Agent.Ping(pingCtx)
		pcancel()
		if err == nil {
			g.Ping, g.BootTook = p, time.Since(start)
			break
		}
		select {
		case <-g.qemuDone:
			g.Close()
			return nil, fmt.Errorf("qemu exited while the guest booted (%v)\n--- %s:\n%s", g.qemuErr, consoleLog(state), tailFile(consoleLog(state), 40))
		case <-bootCtx.Done():
			_ = g.kill()
			return nil, fmt.Errorf("the guest's agent did not answer within %s: %w\n--- %s:\n%s", time.Since(start).Round(time.Second), bootCtx.Err(), consoleLog(state), tailFile(consoleLog(state), 40))
		case <-time.After(500 * time.Millisecond):
		}
	}
	fmt.Fprintf(cfg.Log, "vm: guest up in %s (kernel %s, init %s, %s, agent started %.1fs after boot)\n",
		g.BootTook.Round(100*time.Millisecond), g.Ping.Kernel, g.Ping.Init, g.Ping.CgroupFS, g.Ping.AgentStartedAt)
	return g, nil
}

func qemuArgs(cfg Config, img *Image, state string, shares []Share, criPort, agentPort int) []string {
	args := []string{
		"-name", "crio-userns-guest,process=crio-userns-guest",
		// KVM hangs in the guest's early boot on this machine kind. TCG
		// runs single-threaded: with one host thread per vCPU (MTTCG,
		// QEMU 7.2) a vCPU can still run a translation of kernel text that
		// another vCPU has just live-patched (static keys flip whenever the
		// first cpuset or device cgroup of a container comes or goes), and
		// the guest dies with "Oops: int3" in the middle of a pod's start or
		// stop. The guest keeps two vCPUs; they take turns on one host thread.
		"-M", "q35", "-accel", "tcg,thread=single",
		"-m", strconv.Itoa(cfg.MemoryMiB), "-smp", strconv.Itoa(cfg.CPUs),
		"-nodefaults", "-display", "none", "-monitor", "none", "-no-reboot",
		"-serial", "file:" + consoleLog(state),
		"-pidfile", pidFile(state),
		"-kernel", img.Kernel, "-initrd", img.Initrd,
		"-append", "console=ttyS0 root=/dev/vda rw net.ifnames=0 panic=-1 quiet",
		// snapshot=on: the cached image never changes; writes go to a
		// temporary file QEMU deletes when it exits.
		"-drive", "file=" + img.Root + ",format=raw,if=virtio,snapshot=on,cache=unsafe",
		"-device", "virtio-rng-pci",
		"-virtfs", "local,path=" + bootDir(state) + ",mount_tag=" + BootTag + ",security_model=none,readonly=on",
		// No route out: restrict=on; the only ways in are two forwards bound
		// to the host's loopback.
		"-netdev", fmt.Sprintf("user,id=net0,restrict=on,net=%s,host=%s,hostfwd=tcp:127.0.0.1:%d-%s:%d,hostfwd=tcp:127.0.0.1:%d-%s:%d",
			GuestNet, GuestHost, criPort, GuestAddr, GuestCRIPort, agentPort, GuestAddr, GuestAgentPort),
		"-device", "virtio-net-pci,netdev=net0",
	}
	for i, s := range shares {
		ro := ",readonly=on"
		if s.Writable {
			ro = ""
		}
		args = append(args, "-virtfs", fmt.Sprintf("local,path=%s,mount_tag=share%d,security_model=none%s", s.Path, i, ro))
	}
	return args
}

// startQEMU starts QEMU as a child that dies with this process: the thread
// that starts it stays locked and alive for as long as QEMU runs, since
// Pdeathsig follows the parent thread, not the process.
func (g *Guest) startQEMU(args []string) error {
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with QEMU's wait
		log, err := os.OpenFile(filepath.Join(g.State, "qemu.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			started <- err
			return
		}
		defer log.Close()
		cmd := exec.Command("nice", append([]string{"-n", "10", "qemu-system-x86_64"}, args...)...)
		cmd.Stdout, cmd.Stderr = log, log
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			started <- fmt.Errorf("starting qemu: %w", err)
			return
		}
		g.qemuPID = cmd.Process.Pid
		started <- nil
		g.qemuErr = cmd.Wait()
		close(g.qemuDone)
	}()
	return <-started
}

// Shutdown powers the guest off through its agent and waits for QEMU to
// exit, killing it by PID if it does not within the grace time. The sockets
// go with it.
func (g *Guest) Shutdown(ctx context.Context) error {
	var errs []error
	if g.Agent != nil {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := g.Agent.Poweroff(pctx); err != nil {
			errs = append(errs, err)
		}
		cancel()
	}
	select {
	case <-g.qemuDone:
	case <-time.After(2 * time.Minute):
		errs = append(errs, fmt.Errorf("the guest did not power off within 2 minutes; killing qemu (pid %d)", g.qemuPID))
		errs = append(errs, g.kill())
	}
	g.Close()
	return errors.Join(errs...)
}

// kill ends QEMU by its PID and waits for it.
func (g *Guest) kill() error {
	if g.qemuPID <= 0 {
		return nil
	}
	if err := syscall.Kill(g.qemuPID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	select {
	case <-g.qemuDone:
	case <-time.After(30 * time.Second):
		return fmt.Errorf("qemu (pid %d) survived SIGKILL", g.qemuPID)
	}
	return nil
}

// Close stops the relays and removes the sockets.
func (g *Guest) Close() {
	g.closeOnce.Do(func() {
		for _, l := range g.listeners {
			_ = l.Close()
		}
		_ = os.Remove(criSocket(g.State))
		_ = os.Remove(agentSocket(g.State))
	})
}

// Done is closed when QEMU has exited.
func (g *Guest) Done() <-chan struct{} { return g.qemuDone }

// Died reports a guest whose QEMU exited without being asked to, with the
// end of its console (a kernel panic lands there), or nil while it runs.
func (g *Guest) Died() error {
	select {
	case <-g.qemuDone:
		return fmt.Errorf("the guest died (qemu pid %d: %v)\n--- %s:\n%s", g.qemuPID, g.qemuErr, consoleLog(g.State), tailFile(consoleLog(g.State), 60))
	default:
		return nil
	}
}

// HostLeftovers lists what a guest that is down still has on the host: a
// QEMU process of this state directory, its sockets.
func HostLeftovers(state string) []string {
	state, _ = filepath.Abs(state)
	var left []string
	if pid, ok := runningQEMU(state); ok {
		left = append(left, fmt.Sprintf("qemu pid %d", pid))
	}
	for _, p := range []string{criSocket(state), agentSocket(state)} {
		if _, err := os.Stat(p); err == nil {
			left = append(left, "socket "+p)
		}
	}
	return left
}

// runningQEMU returns the PID in state's pidfile if that process is a QEMU
// booted for state (its command line names the state's console log), so
// that a recycled PID is never taken for it.
func runningQEMU(state string) (int, bool) {
	return LivePID(pidFile(state), consoleLog(state))
}

// LivePID returns the PID recorded in pidFile when that process is alive
// (not a zombie) and its command line contains mark.
func LivePID(pidFile, mark string) (int, bool) {
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), mark) {
		return 0, false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	if i := strings.LastIndexByte(string(stat), ')'); i > 0 && i+2 < len(stat) && (stat[i+2] == 'Z' || stat[i+2] == 'X') {
		return 0, false
	}
	return pid, true
}

// buildAgent compiles the agent statically into dir: it runs on the guest's
// own libc-free terms.
func buildAgent(ctx context.Context, dir string, log io.Writer) error {
	root, err := repo.Root()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", filepath.Join(dir, AgentName), "./test/cmd/"+AgentName)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if err := command.Run(cmd, log); err != nil {
		return fmt.Errorf("building the guest agent: %w", err)
	}
	return nil
}

// normalizeShares makes the paths absolute, drops duplicates and shares
// inside another share (a writable parent wins), and sorts them.
func normalizeShares(in []Share) ([]Share, error) {
	byPath := map[string]bool{}
	for _, s := range in {
		p, err := filepath.Abs(s.Path)
		if err != nil {
			return nil, err
		}
		if st, err := os.Stat(p); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("share %s: not a directory (%v)", p, err)
		}
		byPath[p] = byPath[p] || s.Writable
	}
	var paths []string
	for p := range byPath {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var out []Share
	for _, p := range paths {
		if n := len(out); n > 0 && strings.HasPrefix(p, out[n-1].Path+"/") {
			out[n-1].Writable = out[n-1].Writable || byPath[p]
			continue
		}
		out = append(out, Share{Path: p, Writable: byPath[p]})
	}
	return out, nil
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// relayUnixToTCP listens on socket and joins each connection to addr.
func relayUnixToTCP(socket, addr string) (net.Listener, error) {
	_ = os.Remove(socket)
	l, err := net.Listen("unix", socket)
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				t, err := net.DialTimeout("tcp", addr, 10*time.Second)
				if err != nil {
					return
				}
				defer t.Close()
				Join(c, t)
			}()
		}
	}()
	return l, nil
}

// Join copies both ways until both directions are done.
func Join(a, b net.Conn) {
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	<-done
}

func tailFile(path string, lines int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return command.Tail(strings.ToValidUTF8(string(data), "?"), lines)
}
