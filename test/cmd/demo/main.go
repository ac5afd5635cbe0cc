// Command demo runs the field reports' scenarios on a pristine and on a
// patched CRI-O node and prints what each did, side by side.
//
//	demo [-crio-version VERSION] -pristine DIR -patched DIR [-state _output/demo]
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
	"text/tabwriter"
	"time"

	"github.com/crio-userns/crio-userns/internal/crio"
	"github.com/crio-userns/crio-userns/internal/crioconf"
	"github.com/crio-userns/crio-userns/internal/repo"
	"github.com/crio-userns/crio-userns/test/images"
	"github.com/crio-userns/crio-userns/test/node"
	"github.com/crio-userns/crio-userns/test/podrun"
)

type column struct {
	name    string
	crioDir string
	results []outcome
}

func main() {
	version := flag.String("crio-version", "", "CRI-O version of both builds (default: the newest series)")
	pristineDir := flag.String("pristine", "", "directory with pristine crio and pinns")
	patchedDir := flag.String("patched", "", "directory with patched crio and pinns")
	stateRoot := flag.String("state", filepath.Join("_output", "demo"), "where the nodes keep their state")
	guest := flag.Bool("guest", false, "also run the guest node's rows (QEMU: cgroup v2, systemd, crun)")
	imageCache := flag.String("image-cache", filepath.Join("_output", "vm"), "where the guest image is cached")
	flag.Parse()
	if *pristineDir == "" || *patchedDir == "" {
		fmt.Fprintln(os.Stderr, "demo: -pristine and -patched are required (make demo sets them)")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, err := repo.Root()
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
	if *version == "" {
		if *version, err = crio.DefaultSeries(filepath.Join(root, "patches")); err != nil {
			fmt.Fprintf(os.Stderr, "demo: %v\n", err)
			os.Exit(1)
		}
	}
	// Both nodes get the project's drop-in for this CRI-O line.
	dropIns, err := crioconf.Files(root, *version)
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}

	cols := []*column{
		{name: "pristine " + *version, crioDir: *pristineDir},
		{name: "crio-userns " + *version, crioDir: *patchedDir},
	}
	for i, col := range cols {
		state := filepath.Join(*stateRoot, []string{"pristine", "patched"}[i])
		if err := runColumn(ctx, col, state, dropIns); err != nil {
			fmt.Fprintf(os.Stderr, "demo: %s: %v\n", col.name, err)
			os.Exit(1)
		}
	}
	if *guest {
		if err := runGuestRows(ctx, cols, filepath.Join(*stateRoot, "guest"), *imageCache, dropIns); err != nil {
			fmt.Fprintf(os.Stderr, "demo: guest node: %v\n", err)
			os.Exit(1)
		}
	}
	printTable(cols)
}

func runColumn(ctx context.Context, col *column, state string, dropIns map[string][]byte) error {
	fmt.Printf("== %s: bringing up a node in %s\n", col.name, state)
	n, err := node.Up(ctx, node.Config{
		State:      state,
		CrioDir:    col.crioDir,
		DropIns:    dropIns,
		LoadImages: images.Loader(filepath.Join(state, "..", "images")),
		Log:        os.Stderr,
	})
	if err != nil {
		return err
	}
	defer func() {
		left, err := n.Down(context.Background())
		switch {
		case err != nil:
			fmt.Fprintf(os.Stderr, "demo: bringing %s down: %v\n", col.name, err)
		case !left.Empty():
			fmt.Fprintf(os.Stderr, "demo: %s: %s\n", col.name, left)
		default:
			fmt.Printf("== %s: node down, nothing left behind\n", col.name)
		}
	}()

	for _, sc := range demoScenarios {
		pod, err := podrun.LoadManifest(sc.manifest)
		if err != nil {
			return err
		}
		start := time.Now()
		res, err := podrun.Run(ctx, pod, podrun.Options{Socket: n.Socket(), SCC: sc.scc, Exec: sc.exec, Timeout: 60 * time.Second})
		o := summarize(res, err)
		col.results = append(col.results, o)
		fmt.Printf("   %-42s %s (%.1fs)\n", sc.title, o.cell, time.Since(start).Seconds())
		if o.uidMap != "" {
			fmt.Printf("%s", indent(o.uidMap, "      uid_map "))
		}
		if o.execOut != "" {
			fmt.Printf("%s", indent(o.execOut, "      oc rsh  "))
		}
	}
	return nil
}

func printTable(cols []*column) {
	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "scenario\tscc\t%s\t%s\n", cols[0].name, cols[1].name)
	fmt.Fprintf(tw, "--------\t---\t%s\t%s\n", strings.Repeat("-", len(cols[0].name)), strings.Repeat("-", len(cols[1].name)))
	for i, sc := range append(demoScenarios, guestScenarios...) {
		if i >= len(cols[0].results) {
			break // the guest's rows were not run
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", sc.title, sc.scc, cols[0].results[i].cell, cols[1].results[i].cell)
	}
	tw.Flush()
}

func indent(s, prefix string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString(prefix + strings.TrimSpace(line) + "\n")
	}
	return b.String()
}
