package vm

import (
	"context"
	"fmt"
	"syscall"

	"github.com/crio-userns/crio-userns/test/images"
	"github.com/crio-userns/crio-userns/test/node"
)

// NodeSpec is the CRI-O a guest runs: host paths, which the guest sees
// through its shares.
type NodeSpec struct {
	CrioDir string            // crio and pinns
	DropIns map[string][]byte // crio.conf.d, after the node's own 10-node.conf
	Hooks   map[string][]byte // hooks.d
	Images  []images.Image    // built layouts to load into the node's store
}

// NodeUp starts crio in the guest with spec: crio.service under systemd,
// cgroup_manager systemd, crun by default and runc as a second handler.
func (g *Guest) NodeUp(ctx context.Context, spec NodeSpec) (*NodeUpResponse, error) {
	req := NodeUpRequest{CrioDir: spec.CrioDir, DropIns: spec.DropIns, Hooks: spec.Hooks, Runtimes: GuestRuntimes, CgroupManager: "systemd"}
	req.Images = imageRefs(spec.Images)
	resp, err := g.Agent.NodeUp(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("bringing up crio in the guest: %w", err)
	}
	return resp, nil
}

func imageRefs(imgs []images.Image) []ImageRef {
	var refs []ImageRef
	for _, img := range imgs {
		refs = append(refs, ImageRef{Ref: img.Ref, Layout: img.Layout, Tag: img.Tag})
	}
	return refs
}

// LoadImages copies built images (on a share) into the running node's store.
func (n Node) LoadImages(ctx context.Context, imgs ...images.Image) error {
	return n.Guest.Agent.LoadImages(ctx, imageRefs(imgs))
}

// Node is the guest's CRI-O as the e2e suite and the demo drive it: the same
// operations as a host bench node, each carried out in the guest.
type Node struct {
	Guest *Guest
}

// Socket is the guest's CRI socket, forwarded to the host.
func (n Node) Socket() string { return n.Guest.Socket() }

// LogRoot is where podrun makes the pods' log directories.
func (n Node) LogRoot() string { return podLogRoot(n.Guest.State) }

// Proc reads the guest's /proc.
func (n Node) Proc() *Agent { return n.Guest.Agent }

// CheckIdle reports what the guest's node holds once every pod is gone.
func (n Node) CheckIdle(ctx context.Context) (*node.Leftovers, error) {
	return n.Guest.Agent.CheckIdle(ctx)
}

// FindLeftovers inspects the guest for anything of the node's.
func (n Node) FindLeftovers(ctx context.Context) (*node.Leftovers, error) {
	return n.Guest.Agent.FindLeftovers(ctx)
}

// Restart stops crio with sig and starts it again, through systemd.
func (n Node) Restart(ctx context.Context, sig syscall.Signal) error {
	return n.Guest.Agent.Restart(ctx, sig)
}

// CrioLog reads crio's log in the guest.
func (n Node) CrioLog(ctx context.Context) ([]byte, error) {
	return n.Guest.Agent.ReadFile(ctx, node.Layout{State: GuestState}.CrioLog())
}

// ReadFile reads a file in the guest.
func (n Node) ReadFile(ctx context.Context, path string) ([]byte, error) {
	return n.Guest.Agent.ReadFile(ctx, path)
}

// Glob lists the files matching pattern in the guest.
func (n Node) Glob(ctx context.Context, pattern string) ([]string, error) {
	return n.Guest.Agent.Glob(ctx, pattern)
}

// Down removes every pod and stops crio; the guest keeps running.
func (n Node) Down(ctx context.Context) (*node.Leftovers, error) {
	return n.Guest.Agent.NodeDown(ctx)
}
