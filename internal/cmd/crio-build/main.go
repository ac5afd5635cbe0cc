// Command crio-build obtains pristine CRI-O from the Go module proxy, applies
// the project's patch series for that version and builds crio and pinns.
//
//	crio-build [-version VERSION] [-pristine] [-patches patches] [-output _output]
//	crio-build -check-series      # apply every series under -patches, build nothing
//	crio-build -check-series -crio-src DIR  # and patches/main to the CRI-O checkout DIR
//	crio-build -unit-tests        # CRI-O's own tests of the touched packages, pristine vs patched
//	crio-build -export            # _output/src/cri-o-VERSION's commits back to patches/VERSION, signed off by you
//	crio-build -lint              # CRI-O's golangci-lint configuration on what the series changes
//	crio-build -list              # the supported versions (one series each), oldest first
//	crio-build -default           # the version used when none is named: the newest series
//
// The supported versions are the release directories under -patches; VERSION
// defaults to the newest of them. VERSION main selects patches/main, the
// series written against CRI-O's main branch, which applies to the HEAD of
// the CRI-O git checkout that -crio-src names; the checkout is only read:
// the series is applied in a scratch clone, _output/src/cri-o-main.
package main

import (
	"context"
	"errors"
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
	crioSrc := flag.String("crio-src", "", "a CRI-O git checkout (e.g. of main) that the "+crio.MainSeries+" series applies to, at its HEAD, in a scratch clone under -output; the checkout itself is only read")
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
		err = checkAll(ctx, *patches, *output, *crioSrc, log)
	case *unitTests:
		err = compareUnitTests(ctx, *version, *patches, *output, *crioSrc, log)
	case *export:
		err = exportSeries(ctx, *version, *patches, *output)
	case *lint:
		err = lintSeries(ctx, *version, *patches, *output, *crioSrc)
	default:
		err = build(ctx, *version, *pristine, *patches, *output, *crioSrc, log)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "crio-build: %v\n", err)
		os.Exit(1)
	}
}

func build(ctx context.Context, version string, pristine bool, patchesRoot, output, crioSrc string, log io.Writer) error {
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
	tree, err := prepare(ctx, version, series, filepath.Join(output, "src", name), crioSrc, log)
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

// prepare makes the source tree of version at dst: the release from the Go
// module proxy or, for the main series, a scratch clone of the checkout
// crioSrc; then it applies series (nil: pristine).
func prepare(ctx context.Context, version string, series *crio.Series, dst, crioSrc string, log io.Writer) (*crio.Tree, error) {
	if version == crio.MainSeries {
		return prepareCheckout(ctx, series, dst, crioSrc)
	}
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

// prepareCheckout is prepare for the main series.
func prepareCheckout(ctx context.Context, series *crio.Series, dst, crioSrc string) (*crio.Tree, error) {
	if crioSrc == "" {
		return nil, errors.New("the " + crio.MainSeries + " series applies to a CRI-O git checkout: name one with -crio-src DIR (make: CRIO_SRC=DIR)")
	}
	c, err := crio.ReadCheckout(ctx, crioSrc)
	if err != nil {
		return nil, err
	}
	fmt.Printf("crio-build: cri-o checkout %s at %.12s (%s), read only: the tree is a scratch clone\n", c.Dir, c.Head, c.Describe)
	if c.Dirty {
		fmt.Printf("crio-build: %s has uncommitted changes: they are not in the scratch clone, which starts from its HEAD\n", c.Dir)
	}
	if series == nil {
		fmt.Printf("crio-build: pristine: no patches\n")
	} else {
		base, err := series.BaseCommit()
		if err != nil {
			return nil, err
		}
		switch {
		case base == "":
			fmt.Printf("crio-build: series %s: %d patches (they name no base commit)\n", series.Dir, len(series.Patches))
		case base == c.Head:
			fmt.Printf("crio-build: series %s: %d patches, written against this commit\n", series.Dir, len(series.Patches))
		default:
			fmt.Printf("crio-build: series %s: %d patches, written against %.12s, applied to %.12s\n", series.Dir, len(series.Patches), base, c.Head)
		}
	}
	tree, err := crio.PrepareCheckout(ctx, c, series, dst, os.Stdout)
	if err != nil {
		return nil, err
	}
	how := "prepared"
	if tree.Reused {
		how = "reused"
	}
	fmt.Printf("crio-build: source %s (%s, %d patches applied, %d of them with a three-way merge, commit %.12s)\n", tree.Dir, how, tree.Applied, tree.Merged, tree.Head)
	return tree, nil
}

func checkAll(ctx context.Context, patchesRoot, output, crioSrc string, log io.Writer) error {
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
		if _, err := prepare(ctx, v, series, filepath.Join(output, "src", "cri-o-"+v), "", log); err != nil {
			return err
		}
	}
	fmt.Printf("crio-build: %d series apply cleanly\n", len(versions))
	return checkMain(ctx, patchesRoot, output, crioSrc, log)
}

// checkMain applies the main series to the checkout crioSrc, or says that
// it did not: no release can stand in for CRI-O's main branch.
func checkMain(ctx context.Context, patchesRoot, output, crioSrc string, log io.Writer) error {
	dir := filepath.Join(patchesRoot, crio.MainSeries)
	if _, err := os.Stat(dir); err != nil {
		if crioSrc != "" {
			return fmt.Errorf("-crio-src %s names a checkout for %s, which does not exist: %w", crioSrc, dir, err)
		}
		return nil
	}
	if crioSrc == "" {
		fmt.Printf("crio-build: %s: NOT CHECKED: it applies to a CRI-O git checkout of main, and none was given (-crio-src DIR; make series CRIO_SRC=DIR)\n", dir)
		return nil
	}
	series, err := crio.LoadSeries(patchesRoot, crio.MainSeries)
	if err != nil {
		return err
	}
	tree, err := prepare(ctx, crio.MainSeries, series, filepath.Join(output, "src", "cri-o-"+crio.MainSeries), crioSrc, log)
	if err != nil {
		return err
	}
	fmt.Printf("crio-build: %s applies to %s at %.12s\n", dir, crioSrc, tree.Base)
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
func lintSeries(ctx context.Context, version, patchesRoot, output, crioSrc string) error {
	series, err := crio.LoadSeries(patchesRoot, version)
	if err != nil {
		return err
	}
	tree, err := prepare(ctx, version, series, filepath.Join(output, "src", "cri-o-"+version), crioSrc, io.Discard)
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
