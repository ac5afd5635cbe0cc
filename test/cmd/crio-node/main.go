// Command crio-node brings the throwaway CRI-O node of the test bench up and
// down.
//
//	crio-node up   [-state DIR] [-crio-dir DIR] [-drop-ins DIR] [-hooks DIR]
//	crio-node down [-state DIR] [-purge]
//	crio-node status [-state DIR]
//	crio-node deps                 # install the Debian packages, set /etc/subuid+subgid
//
// The state directory defaults to $CRIO_USERNS_STATE, else _output/node.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/crio-userns/crio-userns/internal/crio"
	"github.com/crio-userns/crio-userns/internal/crioconf"
	"github.com/crio-userns/crio-userns/internal/repo"
	"github.com/crio-userns/crio-userns/test/images"
	"github.com/crio-userns/crio-userns/test/node"
)

func usage() {
	fmt.Fprintln(os.Stderr, "usage: crio-node up|down|status|deps [flags]  (crio-node CMD -h for flags)")
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	defState := os.Getenv("CRIO_USERNS_STATE")
	if defState == "" {
		defState = filepath.Join("_output", "node")
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	state := fs.String("state", defState, "node state directory ($CRIO_USERNS_STATE)")

	var err error
	switch os.Args[1] {
	case "up":
		crioDir := fs.String("crio-dir", "", "directory with the crio and pinns to run (default: the patched build of the newest series)")
		dropIns := fs.String("drop-ins", "", "directory of crio.conf.d drop-ins to install instead of the project's drop-in for the crio's version")
		hooks := fs.String("hooks", "", "directory of hooks.d JSON files to install")
		_ = fs.Parse(os.Args[2:])
		err = up(ctx, *state, *crioDir, *dropIns, *hooks)
	case "down":
		purge := fs.Bool("purge", false, "also delete the state directory (image layers included)")
		_ = fs.Parse(os.Args[2:])
		err = down(ctx, *state, *purge)
	case "status":
		_ = fs.Parse(os.Args[2:])
		err = status(*state)
	case "deps":
		_ = fs.Parse(os.Args[2:])
		if err = node.EnsureDeps(ctx, os.Stderr); err == nil {
			err = node.EnsureSubIDs()
		}
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "crio-node %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func up(ctx context.Context, state, crioDir, dropInDir, hooksDir string) error {
	root, err := repo.Root()
	if err != nil {
		return err
	}
	if crioDir == "" {
		version, err := crio.DefaultSeries(filepath.Join(root, "patches"))
		if err != nil {
			return err
		}
		crioDir = filepath.Join(root, "_output", "crio", version, "bin")
	}
	// The drop-in must be the one for the CRI-O that runs: CRI-O before 1.35
	// refuses to start with an annotation name it does not know.
	version, err := crio.BinaryVersion(ctx, filepath.Join(crioDir, "crio"))
	if err != nil {
		return err
	}
	var dropIns map[string][]byte
	if dropInDir != "" {
		dropIns, err = node.ReadFiles(dropInDir, ".conf")
	} else {
		dropIns, err = crioconf.Files(root, version)
	}
	if err != nil {
		return err
	}
	hooks, err := node.ReadFiles(hooksDir, ".json")
	if err != nil {
		return err
	}
	start := time.Now()
	n, err := node.Up(ctx, node.Config{
		State:      state,
		CrioDir:    crioDir,
		DropIns:    dropIns,
		Hooks:      hooks,
		LoadImages: images.Loader(filepath.Join(state, "images")),
		Log:        os.Stderr,
	})
	if err != nil {
		return err
	}
	fmt.Printf("node up in %.1fs: CRI-O %s from %s\n", time.Since(start).Seconds(), version, crioDir)
	printWhere(n)
	return nil
}

func down(ctx context.Context, state string, purge bool) error {
	n, err := node.Attach(state)
	if err != nil {
		return err
	}
	left, err := n.Down(ctx)
	if left != nil {
		fmt.Println("node down:", left)
	}
	if err != nil {
		return err
	}
	if !left.Empty() {
		return fmt.Errorf("the node left things behind (see above)")
	}
	if purge {
		if err := n.Purge(); err != nil {
			return err
		}
		fmt.Println("removed", n.State)
	}
	return nil
}

func status(state string) error {
	n, err := node.Attach(state)
	if err != nil {
		return err
	}
	if n.PID() == 0 {
		fmt.Printf("no node running in %s\n", n.State)
		return nil
	}
	printWhere(n)
	return nil
}

func printWhere(n *node.Node) {
	fmt.Printf("  crio pid    %d\n", n.PID())
	fmt.Printf("  socket      %s\n", n.Socket())
	fmt.Printf("  config      %s, %s/\n", n.ConfigFile(), n.DropInDir())
	fmt.Printf("  hooks       %s/\n", n.HooksDir())
	fmt.Printf("  storage     %s (run root %s)\n", n.StorageRoot(), n.RunRoot())
	fmt.Printf("  namespaces  %s/\n", n.NamespacesDir())
	fmt.Printf("  crio log    %s\n", n.CrioLog())
	fmt.Printf("  images      %s\n", strings.Join(images.Refs, " "))
	fmt.Printf("  run a pod   _output/bin/podrun --socket %s --scc restricted contrib/examples/000-fedora-map-to-root.yaml\n", n.Socket())
}
