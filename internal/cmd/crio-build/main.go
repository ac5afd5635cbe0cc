// Command crio-build obtains pristine CRI-O from the Go module proxy, applies
// the project's patch series for that version and builds crio and pinns.
//
//	crio-build [-version VERSION] [-pristine] [-patches patches] [-output _output]
//	crio-build -check-series      # apply every series under -patches, build nothing
//	crio-build -unit-tests        # CRI-O's own tests of the touched packages, pristine vs patched
//	crio-build -export            # _output/src/cri-o-VERSION's commits back to patches/VERSION, signed off by you
//	crio-build -lint              # CRI-O's golangci-lint configuration on what the series changes
//	crio-build -list              # the supported versions (one series each), oldest first
//	crio-build -default           # the version used when none is named: the newest series
//
// The supported versions are the release directories under -patches; VERSION
// defaults to the newest of them.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/crio-userns/crio-userns/internal/crio"
)

func main() {
	version := flag.String("version", "", "CRI-O release to build (a module proxy version; default: the newest series)")
	pristine := flag.Bool("pristine", false, "build CRI-O without the project's patches")
	patches := flag.String("patches", "patches", "directory holding one patch series per CRI-O version")
	output := flag.String("output", "_output", "build output directory")
	checkSeries := flag.Bool("check-series", false, "apply every series to its pristine release and stop")
	unitTests := flag.Bool("unit-tests", false, "run CRI-O's own tests of the packages the series touches, pristine vs patched")
	export := flag.Bool("export", false, "write the commits of the source tree since its pristine commit back to the series, signed off with your git config user.name and user.email")
	lint := flag.Bool("lint", false, "run CRI-O's own golangci-lint configuration on the lines the series changes in the packages it touches")
	verbose := flag.Bool("v", false, "show the compiler's output")
	list := flag.Bool("list", false, "print the supported versions, oldest first, and stop")
	printDefault := flag.Bool("default", false, "print the default version and stop")
	flag.Parse()

	if *list || *printDefault || *version == "" {
		versions, err := crio.ListSeries(*patches)
		if err == nil && len(versions) == 0 {
			err = fmt.Errorf("no patch series under %s", *patches)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "crio-build: %v\n", err)
			os.Exit(1)
		}
		switch {
		case *list:
			for _, v := range versions {
				fmt.Println(v)
			}
			return
		case *printDefault:
			fmt.Println(versions[len(versions)-1])
			return
		}
		*version = versions[len(versions)-1]
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var log io.Writer = io.Discard
	if *verbose {
		log = os.Stderr
	}
	var err error
	switch {
	case *checkSeries:
		err = checkAll(ctx, *patches, *output, log)
	case *unitTests:
		err = compareUnitTests(ctx, *version, *patches, *output, log)
	case *export:
		err = exportSeries(ctx, *version, *patches, *output)
	case *lint:
		err = lintSeries(ctx, *version, *patches, *output)
	default:
		err = build(ctx, *version, *pristine, *patches, *output, log)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "crio-build: %v\n", err)
		os.Exit(1)
	}
}

func build(ctx context.Context, version string, pristine bool, patchesRoot, output string, log io.Writer) error {
	name := "cri-o-" + version
	outName := version
	var series *crio.Series
	if pristine {
		name += "-pristine"
		outName += "-pristine"
	} else {
		var err error
		if series, err = crio.LoadSeries(patchesRoot, version); err != nil {
			return err
		}
	}
	tree, err := prepare(ctx, version, series, filepath.Join(output, "src", name), log)
	if err != nil {
		return err
	}
	fmt.Printf("crio-build: building crio and pinns (tags: %v)\n", crio.BuildTags)
	bins, err := crio.Build(ctx, tree, filepath.Join(output, "crio", outName), log)
	if err != nil {
		return err
	}
	for _, r := range bins.Replaced {
		fmt.Printf("crio-build: dependency %s (the module proxy does not serve the version go.mod names)\n", r)
	}
	state := "built"
	if bins.Reused {
		state = "up to date"
	}
	fmt.Printf("crio-build: %s: %s %s\n", state, bins.Crio, bins.Pinns)
	return nil
}

func prepare(ctx context.Context, version string, series *crio.Series, dst string, log io.Writer) (*crio.Tree, error) {
	mod, err := crio.Fetch(ctx, version)
	if err != nil {
		return nil, err
	}
	fmt.Printf("crio-build: cri-o %s from the Go module proxy, checksum %s\n", mod.Version, mod.Sum)
	if series == nil {
		fmt.Printf("crio-build: pristine: no patches\n")
	} else {
		fmt.Printf("crio-build: series %s: %d patches\n", series.Dir, len(series.Patches))
	}
	tree, err := crio.Prepare(ctx, mod, series, dst, os.Stdout)
	if err != nil {
		return nil, err
	}
	how := "prepared"
	if tree.Reused {
		how = "reused"
	}
	fmt.Printf("crio-build: source %s (%s, %d patches applied, commit %.12s)\n", tree.Dir, how, tree.Applied, tree.Head)
	return tree, nil
}

func checkAll(ctx context.Context, patchesRoot, output string, log io.Writer) error {
	versions, err := crio.ListSeries(patchesRoot)
	if err != nil {
		return err
	}
	if len(versions) == 0 {
		return fmt.Errorf("no series under %s", patchesRoot)
	}
	for _, v := range versions {
		series, err := crio.LoadSeries(patchesRoot, v)
		if err != nil {
			return err
		}
		if _, err := prepare(ctx, v, series, filepath.Join(output, "src", "cri-o-"+v), log); err != nil {
			return err
		}
	}
	fmt.Printf("crio-build: %d series apply cleanly\n", len(versions))
	return nil
}

// exportSeries writes the tree that `crio-build` prepared (and a developer
// then changed with git) back to the series directory.
func exportSeries(ctx context.Context, version, patchesRoot, output string) error {
	id, err := crio.GitIdentity(ctx, ".")
	if err != nil {
		return err
	}
	tree := filepath.Join(output, "src", "cri-o-"+version)
	files, err := crio.Export(ctx, tree, filepath.Join(patchesRoot, version), id)
	if err != nil {
		return err
	}
	for _, f := range files {
		fmt.Println(f)
	}
	fmt.Printf("crio-build: exported %d patches from %s, signed off by %s <%s>\n", len(files), tree, id.Name, id.Email)
	return nil
}

// lintSeries runs CRI-O's golangci-lint configuration on the series: only
// issues in lines the series adds count, in the packages it touches.
func lintSeries(ctx context.Context, version, patchesRoot, output string) error {
	series, err := crio.LoadSeries(patchesRoot, version)
	if err != nil {
		return err
	}
	tree, err := prepare(ctx, version, series, filepath.Join(output, "src", "cri-o-"+version), io.Discard)
	if err != nil {
		return err
	}
	pkgs, err := crio.TouchedPackages(ctx, tree.Dir)
	if err != nil || len(pkgs) == 0 {
		return err
	}
	fmt.Printf("crio-build: installing %s (once)\n", crio.Linter)
	linter, err := crio.InstallLinter(ctx, filepath.Join(output, "tools"), os.Stderr)
	if err != nil {
		return err
	}
	fmt.Printf("crio-build: golangci-lint with CRI-O %s's .golangci.yml on the series' lines in %s\n", version, strings.Join(pkgs, " "))
	report, found, err := crio.Lint(ctx, linter, tree.Dir, pkgs)
	if err != nil {
		return err
	}
	fmt.Print(report)
	if found {
		return fmt.Errorf("golangci-lint found issues in the lines the %s series adds", version)
	}
	fmt.Printf("crio-build: the %s series adds no golangci-lint issue\n", version)
	return nil
}
