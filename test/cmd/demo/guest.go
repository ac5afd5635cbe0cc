package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/crio-userns/crio-userns/test/images"
	"github.com/crio-userns/crio-userns/test/podrun"
	"github.com/crio-userns/crio-userns/test/scenarios"
	"github.com/crio-userns/crio-userns/test/vm"
)

// guestScenarios run on the guest node (cgroup v2, systemd cgroup manager,
// crun): the workload that needs an OpenShift-shaped node.
var guestScenarios = []scenario{
	{"systemd image, no runAsUser (guest node)", scenarios.Path("systemd-restricted.yaml"), podrun.SCCRestricted,
		images.SystemdBootedCmd},
}

// runGuestRows boots the guest once and runs guestScenarios with each
// column's CRI-O in it.
func runGuestRows(ctx context.Context, cols []*column, state, imageCache string, dropIns map[string][]byte) error {
	imageDir := filepath.Join(state, "images")
	imgs, err := images.Build(ctx, imageDir)
	if err != nil {
		return err
	}
	systemd, err := images.BuildSystemd(ctx, images.DefaultSystemdSpec(vm.Suite, vm.DebianMirror()), imageDir, os.Stderr)
	if err != nil {
		return err
	}
	imgs = append(imgs, systemd)
	shares := []vm.Share{{Path: imageDir}}
	for _, col := range cols {
		shares = append(shares, vm.Share{Path: col.crioDir})
	}
	fmt.Printf("== guest node: booting (Debian 13, cgroup v2, systemd, crun) in %s\n", state)
	g, err := vm.Boot(ctx, vm.Config{State: state, ImageCache: imageCache, Shares: shares, Log: os.Stderr})
	if err != nil {
		return err
	}
	defer func() {
		if err := g.Shutdown(context.Background()); err != nil {
			fmt.Fprintf(os.Stderr, "demo: guest shutdown: %v\n", err)
		} else if left := vm.HostLeftovers(g.State); len(left) > 0 {
			fmt.Fprintf(os.Stderr, "demo: the guest left %v\n", left)
		}
	}()
	n := vm.Node{Guest: g}
	for _, col := range cols {
		crioDir, _ := filepath.Abs(col.crioDir)
		if _, err := g.NodeUp(ctx, vm.NodeSpec{CrioDir: crioDir, DropIns: dropIns, Images: imgs}); err != nil {
			return err
		}
		fmt.Printf("== %s in the guest node\n", col.name)
		for _, sc := range guestScenarios {
			pod, err := podrun.LoadManifest(sc.manifest)
			if err != nil {
				return err
			}
			start := time.Now()
			res, err := podrun.Run(ctx, pod, podrun.Options{Socket: n.Socket(), Proc: n.Proc(), LogRoot: n.LogRoot(),
				SCC: sc.scc, Exec: sc.exec, Ready: "$^", Timeout: 8 * time.Minute})
			o := summarize(res, err)
			if err == nil && len(res.Containers) > 0 {
				if e := res.Containers[0].Exec; e != nil && e.ExitCode != nil {
					o.cell += fmt.Sprintf(", %s %.0fs after RunPodSandbox", strings.TrimSpace(e.Stdout), e.Done.Seconds())
				}
			}
			col.results = append(col.results, o)
			fmt.Printf("   %-42s %s (%.1fs)\n", sc.title, o.cell, time.Since(start).Seconds())
		}
		left, err := n.Down(ctx)
		if err != nil {
			return err
		}
		if !left.Empty() {
			return fmt.Errorf("%s left in the guest: %s", col.name, left)
		}
	}
	return nil
}
