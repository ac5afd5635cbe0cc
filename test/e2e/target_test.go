package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/crio-userns/crio-userns/test/images"
	"github.com/crio-userns/crio-userns/test/node"
	"github.com/crio-userns/crio-userns/test/podrun"
	"github.com/crio-userns/crio-userns/test/vm"
)

// target is a CRI-O node the suite drives: the host bench (cgroup v1,
// cgroupfs, runc, crio as a child process) or the guest node (cgroup v2,
// systemd, crun, crio.service in a QEMU guest). Tests written against it run
// on either; $CRIO_USERNS_E2E_NODE=guest selects the guest.
type target interface {
	Socket() string
	// Proc reads the node's processes by the PIDs its CRI-O reports.
	Proc() podrun.ProcReader
	// CheckIdle reports what the node holds once every pod is gone.
	CheckIdle(ctx context.Context) (*node.Leftovers, error)
	// FindLeftovers inspects the node's machine for anything of the node's.
	FindLeftovers(ctx context.Context) (*node.Leftovers, error)
	// Restart stops crio with sig and starts it again on the same state.
	Restart(ctx context.Context, sig syscall.Signal) error
	CrioLog(ctx context.Context) ([]byte, error)
	// ReadFile reads a file on the node's machine.
	ReadFile(ctx context.Context, path string) ([]byte, error)
	// Glob lists the files matching pattern on the node's machine.
	Glob(ctx context.Context, pattern string) ([]string, error)
	// Down removes every pod and stops crio.
	Down(ctx context.Context) (*node.Leftovers, error)
	// Runtimes are the node's runtime handlers, the default first.
	Runtimes() []string
	// LogRoot is where podrun makes pod log directories ("" for /tmp).
	LogRoot() string
	// Settle is how long podrun watches a running container that has not
	// printed its ready line; zero means podrun's default.
	Settle() time.Duration
}

// nodeKindEnv selects the node the suite runs on: "host" (default) or "guest".
const nodeKindEnv = "CRIO_USERNS_E2E_NODE"

func onGuest() bool { return os.Getenv(nodeKindEnv) == "guest" }

// hostNode is a node bench node on this machine.
type hostNode struct{ *node.Node }

func (h hostNode) Proc() podrun.ProcReader { return podrun.LocalProc{Root: "/proc"} }
func (h hostNode) FindLeftovers(context.Context) (*node.Leftovers, error) {
	return h.Node.FindLeftovers(nil)
}
func (h hostNode) CrioLog(context.Context) ([]byte, error) { return os.ReadFile(h.Node.CrioLog()) }
func (h hostNode) ReadFile(_ context.Context, p string) ([]byte, error) {
	return os.ReadFile(p)
}
func (h hostNode) Glob(_ context.Context, pattern string) ([]string, error) {
	return filepath.Glob(pattern)
}
func (h hostNode) Runtimes() []string    { return []string{"runc"} }
func (h hostNode) LogRoot() string       { return "" }
func (h hostNode) Settle() time.Duration { return 0 }

// guestNode is CRI-O in the guest.
type guestNode struct{ vm.Node }

func (g guestNode) Proc() podrun.ProcReader { return g.Node.Proc() }
func (g guestNode) Runtimes() []string {
	var names []string
	for _, r := range vm.GuestRuntimes {
		names = append(names, r.Name)
	}
	return names
}

// Settle: under TCG a container takes seconds to do what it does in a
// fraction of one on the host.
func (g guestNode) Settle() time.Duration { return 10 * time.Second }

// theGuest is booted once per test binary, for all flavours: a flavour
// change only restarts crio in it.
var theGuest *vm.Guest

// guestNodeUp brings up crio of flavour f in the guest, booting the guest
// first if need be.
func guestNodeUp(t testing.TB, f flavour, dropIns, hooks map[string][]byte) (target, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	imgs, err := (&images.Builder{}).Build(ctx, e2eDir("images"))
	if err != nil {
		return nil, err
	}
	if theGuest != nil {
		if err := theGuest.Died(); err != nil {
			// Said once, by the first test that finds it; the next test
			// boots a new guest rather than failing on a dead socket.
			theGuest.Close()
			theGuest = nil
			return nil, err
		}
	}
	if theGuest == nil {
		// The suite's own directory is writable: the hook writes its audit
		// log there, at the path the test reads it from.
		shares := []vm.Share{{Path: e2eDir(), Writable: true}}
		for _, fl := range []flavour{pristine, patched} {
			if _, err := os.Stat(fl.binDir()); err == nil {
				shares = append(shares, vm.Share{Path: fl.binDir()})
			}
		}
		g, err := vm.Boot(ctx, vm.Config{State: e2eDir("guest"), ImageCache: guestImageCache(), Shares: shares, Log: os.Stderr})
		if err != nil {
			return nil, err
		}
		t.Logf("guest booted in %v (image %s, reused %v)", g.BootTook.Round(time.Millisecond), g.Image.Key, g.Image.Reused)
		theGuest = g
	}
	resp, err := theGuest.NodeUp(ctx, vm.NodeSpec{CrioDir: f.binDir(), DropIns: dropIns, Hooks: hooks, Images: imgs})
	if err != nil {
		return nil, err
	}
	t.Logf("%s node up in the guest in %v (images %v, crio pid %d)", f, resp.Elapsed.Round(time.Millisecond), resp.ImagesTook.Round(time.Millisecond), resp.PID)
	return guestNode{vm.Node{Guest: theGuest}}, nil
}

// guestImageCache is shared by every suite directory: the image depends only
// on its own inputs.
func guestImageCache() string {
	if d := os.Getenv("CRIO_USERNS_VM_IMAGES"); d != "" {
		return d
	}
	return filepath.Join(e2eRoot(), "vm")
}

// shutdownGuest powers the guest off and checks it left nothing on the host.
func shutdownGuest() error {
	if theGuest == nil {
		return nil
	}
	g := theGuest
	theGuest = nil
	if err := g.Died(); err != nil {
		g.Close()
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		return err
	}
	if left := vm.HostLeftovers(g.State); len(left) > 0 {
		return fmt.Errorf("the guest left on the host: %v", left)
	}
	return nil
}
