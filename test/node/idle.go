package node

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// CheckIdle reports what a running node holds beyond crio itself once every
// pod is gone: pods or containers CRI-O still lists, pinned namespaces,
// mounts other than the storage driver's home, storage containers and
// processes other than crio. Tests call it after each failure to prove that
// nothing leaked.
func (n *Node) CheckIdle(ctx context.Context) (*Leftovers, error) {
	left, err := n.FindLeftovers(nil)
	if err != nil {
		return nil, err
	}
	driverHome := filepath.Join(n.StorageRoot(), "overlay")
	mounts := left.Mounts[:0]
	for _, m := range left.Mounts {
		if m != driverHome { // crio keeps its overlay home bind-mounted while it runs
			mounts = append(mounts, m)
		}
	}
	left.Mounts = mounts
	crio := strconv.Itoa(n.PID()) + " "
	procs := left.Processes[:0]
	for _, p := range left.Processes {
		if !strings.HasPrefix(p, crio) {
			procs = append(procs, p)
		}
	}
	left.Processes = procs

	client, err := n.Client()
	if err != nil {
		return nil, err
	}
	defer client.Close()
	pods, err := client.ListPods(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range pods {
		left.StorageContainers = append(left.StorageContainers, fmt.Sprintf("CRI pod %s", p))
	}
	return left, nil
}
