package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/crio-userns/crio-userns/internal/crio"
)

// compareUnitTests runs CRI-O's own tests of every package the series
// touches on the pristine and the patched tree. CRI-O's suites have failures
// of their own on some machines (e.g. a mount-propagation test on a private
// /), so the verdict is relative: nothing that passes on pristine may fail
// with the series, and tests the series adds must pass. Failures get one
// retry, to tell a flake from a regression.
func compareUnitTests(ctx context.Context, version, patchesRoot, output string, log io.Writer) error {
	series, err := crio.LoadSeries(patchesRoot, version)
	if err != nil {
		return err
	}
	patchedTree, err := prepare(ctx, version, series, filepath.Join(output, "src", "cri-o-"+version), log)
	if err != nil {
		return err
	}
	pristineTree, err := prepare(ctx, version, nil, filepath.Join(output, "src", "cri-o-"+version+"-pristine"), log)
	if err != nil {
		return err
	}
	pkgs, err := crio.TouchedPackages(ctx, patchedTree.Dir)
	if err != nil {
		return err
	}
	if len(pkgs) == 0 {
		fmt.Println("crio-build: the series touches no Go package")
		return nil
	}
	fmt.Printf("crio-build: CRI-O's tests of %s, pristine then patched\n", strings.Join(pkgs, " "))
	pristine, err := crio.RunUnitTests(ctx, pristineTree.Dir, pkgs, "", log)
	if err != nil {
		return err
	}
	patched, err := crio.RunUnitTests(ctx, patchedTree.Dir, pkgs, "", log)
	if err != nil {
		return err
	}
	cmp := crio.Compare(pristine, patched)
	if !cmp.OK() {
		if retried := retry(ctx, patchedTree.Dir, pkgs, append(cmp.Regressions, cmp.NewFailing...), log); retried != nil {
			for k, v := range retried {
				patched[k] = v
			}
			if again := crio.Compare(pristine, patched); again.OK() {
				fmt.Printf("crio-build: flaky on the first run, passed on retry: %s\n", strings.Join(append(cmp.Regressions, cmp.NewFailing...), ", "))
			}
			cmp = crio.Compare(pristine, patched)
		}
	}
	for _, k := range cmp.PreExisting {
		fmt.Printf("crio-build:   fails on pristine too: %s\n", k)
	}
	fmt.Printf("crio-build: %d tests pass with the series, %d fail on pristine too\n", cmp.Passed, len(cmp.PreExisting))
	if !cmp.OK() {
		return fmt.Errorf("the series breaks CRI-O's own tests:\n  regressions: %s\n  new tests failing: %s",
			strings.Join(cmp.Regressions, ", "), strings.Join(cmp.NewFailing, ", "))
	}
	return nil
}

// retry reruns the top-level tests of the failed keys once on tree.
func retry(ctx context.Context, tree string, pkgs, failed []string, log io.Writer) crio.Outcomes {
	names := map[string]bool{}
	for _, k := range failed {
		parts := strings.SplitN(k, " ", 2)
		if len(parts) != 2 || strings.HasPrefix(parts[1], "(") {
			continue
		}
		top := strings.SplitN(strings.TrimSuffix(parts[1], " (no longer runs)"), "/", 2)[0]
		names[regexp.QuoteMeta(top)] = true
	}
	if len(names) == 0 {
		return nil
	}
	var list []string
	for n := range names {
		list = append(list, n)
	}
	sort.Strings(list)
	out, err := crio.RunUnitTests(ctx, tree, pkgs, "^("+strings.Join(list, "|")+")$", log)
	if err != nil {
		return nil
	}
	return out
}
