// Command vm-node brings the guest node up and down: CRI-O under systemd in a
// QEMU guest (Debian 13, cgroup v2, crun), its CRI socket forwarded to the
// host (package test/vm).
//
//	vm-node up     [-state DIR] [-image-cache DIR] [-crio-dir DIR] [-drop-ins DIR] [-hooks DIR]
//	vm-node down   [-state DIR]
//	vm-node status [-state DIR]
//	vm-node exec   [-state DIR] [-timeout D] -- CMD [ARG...]
//	vm-node image  [-image-cache DIR]
//
// up returns once crio in the guest answers on STATE/crio.sock; a background
// process (vm-node serve) keeps QEMU and the forwards running until down.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/crio-userns/crio-userns/test/images"
	"github.com/crio-userns/crio-userns/test/node"
	"github.com/crio-userns/crio-userns/test/vm"
)

func usage() {
	fmt.Fprintln(os.Stderr, "usage: vm-node up|down|status|exec|image [flags]  (vm-node CMD -h for flags)")
	os.Exit(2)
}

type flags struct {
	state, cache, crioDir, dropIns, hooks string
	timeout                               time.Duration
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var f flags
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	fs.StringVar(&f.state, "state", filepath.Join("_output", "vm-node"), "the guest's state directory on the host")
	fs.StringVar(&f.cache, "image-cache", filepath.Join("_output", "vm"), "where guest images are built and kept")
	fs.StringVar(&f.crioDir, "crio-dir", "", "directory with the crio and pinns to run (make vm-node-up sets it)")
	fs.StringVar(&f.dropIns, "drop-ins", filepath.Join("contrib", "crio.conf.d"), "directory of crio.conf.d drop-ins (empty for none)")
	fs.StringVar(&f.hooks, "hooks", "", "directory of hooks.d JSON files")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Minute, "exec: time limit")
	_ = fs.Parse(os.Args[2:])
	var err error
	switch os.Args[1] {
	case "up":
		err = up(ctx, f)
	case "serve":
		err = serve(ctx, f)
	case "down":
		err = down(ctx, f)
	case "status":
		err = status(ctx, f)
	case "exec":
		err = execIn(ctx, f, fs.Args())
	case "image":
		var img *vm.Image
		if err = vm.EnsureDeps(ctx, os.Stderr); err != nil {
			break
		}
		if img, err = vm.BuildImage(ctx, vm.DefaultImageSpec(), f.cache, os.Stderr); err == nil {
			fmt.Printf("guest image %s (reused %v) in %s\n", img.Key, img.Reused, img.Dir)
		}
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "vm-node %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func readyFile(state string) string { return filepath.Join(state, "ready.json") }
func servePID(state string) string  { return filepath.Join(state, "serve.pid") }
func serveLog(state string) string  { return filepath.Join(state, "serve.log") }

// up starts `vm-node serve` in its own session and waits until it reports
// the node ready or exits.
func up(ctx context.Context, f flags) error {
	if f.crioDir == "" {
		return errors.New("-crio-dir is required")
	}
	if err := os.MkdirAll(f.state, 0o755); err != nil {
		return err
	}
	if pid, ok := serving(f.state); ok {
		return fmt.Errorf("a guest node is already up in %s (vm-node serve pid %d): make vm-node-down first", f.state, pid)
	}
	_ = os.Remove(readyFile(f.state))
	self, err := os.Executable()
	if err != nil {
		return err
	}
	log, err := os.OpenFile(serveLog(f.state), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	state, err := filepath.Abs(f.state)
	if err != nil {
		return err
	}
	cmd := exec.Command(self, "serve", "-state", state, "-image-cache", f.cache, "-crio-dir", f.crioDir, "-drop-ins", f.dropIns, "-hooks", f.hooks)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	fmt.Printf("vm-node: booting the guest (log %s)\n", serveLog(f.state))
	for {
		if data, err := os.ReadFile(readyFile(f.state)); err == nil {
			fmt.Print(string(data))
			return nil
		}
		select {
		case err := <-exited:
			out, _ := os.ReadFile(serveLog(f.state))
			return fmt.Errorf("vm-node serve exited (%v):\n%s", err, out)
		case <-ctx.Done():
			_ = cmd.Process.Signal(syscall.SIGTERM)
			<-exited
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// serve boots the guest, starts crio in it and keeps both running until
// SIGTERM (vm-node down) or until QEMU exits.
func serve(ctx context.Context, f flags) error {
	state, err := filepath.Abs(f.state)
	if err != nil {
		return err
	}
	if err := os.WriteFile(servePID(state), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return err
	}
	defer os.Remove(servePID(state))
	dropIns, err := node.ReadFiles(f.dropIns, ".conf")
	if err != nil {
		return err
	}
	hooks, err := node.ReadFiles(f.hooks, ".json")
	if err != nil {
		return err
	}
	imageDir := filepath.Join(state, "images")
	built, err := (&images.Builder{Log: os.Stderr}).Build(ctx, imageDir)
	if err != nil {
		return err
	}
	shares := []vm.Share{{Path: f.crioDir}, {Path: imageDir}}
	if f.hooks != "" {
		shares = append(shares, vm.Share{Path: f.hooks})
	}
	start := time.Now()
	g, err := vm.Boot(ctx, vm.Config{State: state, ImageCache: f.cache, Shares: shares, Log: os.Stderr})
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := g.Shutdown(sctx); err != nil {
			fmt.Fprintln(os.Stderr, "vm-node serve: shutdown:", err)
		}
	}()
	crioDir, _ := filepath.Abs(f.crioDir)
	resp, err := g.NodeUp(ctx, vm.NodeSpec{CrioDir: crioDir, DropIns: dropIns, Hooks: hooks, Images: built})
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "guest node up in %.1fs (image %s%s, boot %.1fs, crio %.1fs of which images %.1fs)\n",
		time.Since(start).Seconds(), g.Image.Key, map[bool]string{true: " cached", false: " built"}[g.Image.Reused],
		g.BootTook.Seconds(), resp.Elapsed.Seconds(), resp.ImagesTook.Seconds())
	fmt.Fprintf(&b, "  kernel      %s, init %s, %s, crio.service (pid %d in the guest), cgroup_manager systemd, runtimes crun (default), runc\n",
		g.Ping.Kernel, g.Ping.Init, g.Ping.CgroupFS, resp.PID)
	fmt.Fprintf(&b, "  socket      %s\n", g.Socket())
	fmt.Fprintf(&b, "  agent       %s\n", filepath.Join(state, vm.AgentSocketName))
	fmt.Fprintf(&b, "  console     %s\n", g.ConsoleLog())
	fmt.Fprintf(&b, "  run a pod   _output/bin/podrun --socket %s --scc restricted contrib/examples/000-fedora-map-to-root-no-runasuser.yaml\n", g.Socket())
	if err := os.WriteFile(readyFile(state), []byte(b.String()), 0o644); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-g.Done():
		return errors.New("qemu exited")
	}
	return nil
}

// serving returns the PID of the state's vm-node serve, if it runs.
func serving(state string) (int, bool) {
	abs, err := filepath.Abs(state)
	if err != nil {
		return 0, false
	}
	return vm.LivePID(servePID(abs), abs)
}

// down brings crio in the guest down (reporting what it left in the guest),
// then the guest, then checks the host.
func down(ctx context.Context, f flags) error {
	var errs []error
	agent := vm.NewAgent(filepath.Join(f.state, vm.AgentSocketName))
	if pid, ok := serving(f.state); ok {
		dctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		left, err := agent.NodeDown(dctx)
		cancel()
		switch {
		case err != nil:
			errs = append(errs, err)
		case !left.Empty():
			errs = append(errs, fmt.Errorf("the guest's node left things behind:\n%s", left))
		default:
			fmt.Println("guest node down:", left)
		}
		_ = syscall.Kill(pid, syscall.SIGTERM)
		deadline := time.Now().Add(4 * time.Minute)
		for {
			if _, ok := serving(f.state); !ok {
				break
			}
			if time.Now().After(deadline) {
				errs = append(errs, fmt.Errorf("vm-node serve (pid %d) still running after 4 minutes", pid))
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	if left := vm.HostLeftovers(f.state); len(left) > 0 {
		errs = append(errs, fmt.Errorf("the guest left on the host: %s", strings.Join(left, ", ")))
	} else {
		fmt.Println("guest down: nothing left on the host")
	}
	_ = os.Remove(readyFile(f.state))
	return errors.Join(errs...)
}

func status(ctx context.Context, f flags) error {
	pid, ok := serving(f.state)
	if !ok {
		fmt.Printf("no guest node in %s\n", f.state)
		return nil
	}
	agent := vm.NewAgent(filepath.Join(f.state, vm.AgentSocketName))
	p, err := agent.Ping(ctx)
	if err != nil {
		return err
	}
	data, _ := json.MarshalIndent(p, "  ", "  ")
	fmt.Printf("guest node up (vm-node serve pid %d)\n  %s\n", pid, data)
	if ready, err := os.ReadFile(readyFile(f.state)); err == nil {
		fmt.Print(string(ready))
	}
	return nil
}

func execIn(ctx context.Context, f flags, args []string) error {
	if len(args) == 0 {
		return errors.New("exec: no command")
	}
	agent := vm.NewAgent(filepath.Join(f.state, vm.AgentSocketName))
	resp, err := agent.Exec(ctx, vm.ExecRequest{Args: args, Timeout: f.timeout})
	if err != nil {
		return err
	}
	fmt.Print(resp.Stdout)
	fmt.Fprint(os.Stderr, resp.Stderr)
	if resp.ExitCode != 0 {
		os.Exit(resp.ExitCode)
	}
	return nil
}
