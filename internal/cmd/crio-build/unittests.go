package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"

	"github.com/crio-userns/crio-userns/internal/crio"
)

// compareUnitTests runs CRI-O's own tests of every package the series
// touches on the patched tree and holds each failure against the pristine
// release: nothing that passes upstream may fail with the series, and tests
// the series adds must pass. CRI-O's suites have failures of their own on
// some machines (e.g. a mount-propagation test on a private /), so a test
// that also fails on pristine is reported, not held against the series.
//
// Only a failure needs the pristine tree: a test that passes with the
// series passes, whatever pristine does. So the pristine tests run only for
// what failed (after one retry, to tell a flake from a regression), an
// unchanged tree's passing results are read from the last run's record
// (patchedOutcomes), and test functions the series deletes are found in its
// diff. For the three supported versions
// that is one test run per version on a cold machine and, on a warm one,
// the few tests that fail here, rerun.
func compareUnitTests(ctx context.Context, version, patchesRoot, output, crioSrc string, log io.Writer) error {
	series, err := crio.LoadSeries(patchesRoot, version)
	if err != nil {
		return err
	}
	patchedTree, err := prepare(ctx, version, series, filepath.Join(output, "src", "cri-o-"+version), crioSrc, log)
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
	removed, err := crio.RemovedTests(ctx, patchedTree.Dir)
	if err != nil {
		return err
	}
	fmt.Printf("crio-build: CRI-O %s's tests of %s, with the series\n", version, strings.Join(pkgs, " "))
	patched, err := patchedOutcomes(ctx, patchedTree, pkgs, log)
	if err != nil {
		return err
	}

	pristine := crio.Outcomes{}
	if failed := patched.Failing(); len(failed) > 0 {
		fmt.Printf("crio-build: failing with the series, run again: %s\n", strings.Join(failed, ", "))
		for k, v := range rerun(ctx, patchedTree.Dir, failed, log) {
			patched[k] = v
		}
		if flaky := flakes(failed, patched); len(flaky) > 0 {
			fmt.Printf("crio-build: flaky on the first run, passed on retry: %s\n", strings.Join(flaky, ", "))
		}
	}
	if failed := patched.Failing(); len(failed) > 0 {
		pristineTree, err := prepare(ctx, version, nil, filepath.Join(output, "src", "cri-o-"+version+"-pristine"), crioSrc, log)
		if err != nil {
			return err
		}
		fmt.Printf("crio-build: the same tests on pristine CRI-O %s\n", version)
		pristine = rerun(ctx, pristineTree.Dir, failed, log)
	}

	cmp := crio.Compare(pristine, patched)
	for _, name := range removed {
		cmp.Regressions = append(cmp.Regressions, name+" (deleted by the series)")
	}
	for _, k := range cmp.PreExisting {
		fmt.Printf("crio-build:   fails on pristine too: %s\n", k)
	}
	fmt.Printf("crio-build: %d tests pass with the series, %d fail on pristine too\n", cmp.Passed, len(cmp.PreExisting))
	if !cmp.OK() {
		return fmt.Errorf("the series breaks CRI-O %s's own tests:\n  regressions: %s\n  new tests failing: %s",
			version, strings.Join(cmp.Regressions, ", "), strings.Join(cmp.NewFailing, ", "))
	}
	return nil
}

// patchedOutcomes runs the tests of pkgs in tree, or reads what the same
// run recorded: go test caches a package's result only when every test in
// it passed, and CRI-O's server package always has a test that fails here
// (on pristine too), so its 1000 passing tests would run on every make test.
// The record is keyed like go test's cache: the tree's inputs (release and
// patches), the Go toolchain, the tags and the packages. Failures are never
// taken from it: the caller runs them again.
func patchedOutcomes(ctx context.Context, tree *crio.Tree, pkgs []string, log io.Writer) (crio.Outcomes, error) {
	record := tree.Dir + ".unit-tests.json"
	h := sha256.New()
	fmt.Fprintf(h, "unit-tests v1\ntree %s\ngo %s\ntags %s\npkgs %s\n", tree.Stamp, runtime.Version(), strings.Join(crio.TestTags, ","), strings.Join(pkgs, ","))
	key := hex.EncodeToString(h.Sum(nil))
	var saved struct {
		Key      string
		Outcomes crio.Outcomes
	}
	if data, err := os.ReadFile(record); err == nil && json.Unmarshal(data, &saved) == nil && saved.Key == key {
		fmt.Printf("crio-build: results of the unchanged tree recorded in %s\n", record)
		return saved.Outcomes, nil
	}
	out, err := crio.RunUnitTests(ctx, tree.Dir, pkgs, "", true, log)
	if err != nil {
		return nil, err
	}
	saved.Key, saved.Outcomes = key, out
	if data, err := json.Marshal(saved); err == nil {
		_ = os.WriteFile(record, data, 0o644)
	}
	return out, nil
}

// rerun runs again, uncached, the top-level tests of the failed keys in
// their packages (the whole package where the package itself failed).
func rerun(ctx context.Context, tree string, failed []string, log io.Writer) crio.Outcomes {
	byPkg := map[string]map[string]bool{}
	for _, k := range failed {
		pkg, test, ok := strings.Cut(k, " ")
		if !ok {
			continue
		}
		if byPkg[pkg] == nil {
			byPkg[pkg] = map[string]bool{}
		}
		if strings.HasPrefix(test, "(") {
			byPkg[pkg][""] = true // the package failed as a whole
			continue
		}
		byPkg[pkg][regexp.QuoteMeta(strings.SplitN(test, "/", 2)[0])] = true
	}
	out := crio.Outcomes{}
	for pkg, names := range byPkg {
		// A package fails as a whole when any of its tests fails; only
		// without a failing test (a build error, a panic, a timeout) does
		// the whole package run again.
		if names[""] && len(names) > 1 {
			delete(names, "")
		}
		run := ""
		if !names[""] {
			var list []string
			for n := range names {
				list = append(list, n)
			}
			sort.Strings(list)
			run = "^(" + strings.Join(list, "|") + ")$"
		}
		res, err := crio.RunUnitTests(ctx, tree, []string{pkgDir(tree, pkg)}, run, false, log)
		if err != nil {
			fmt.Printf("crio-build:   %s in %s: %v\n", pkg, tree, err)
			continue
		}
		for k, v := range res {
			out[k] = v
		}
	}
	return out
}

// pkgDir turns an import path of CRI-O's module into its ./dir form.
func pkgDir(tree, pkg string) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(pkg, crio.ModulePath), "/")
	if rel == "" {
		return "."
	}
	return "./" + rel
}

// flakes returns the failed keys that passed when run again.
func flakes(failed []string, now crio.Outcomes) []string {
	var out []string
	for _, k := range failed {
		if now[k] == "pass" {
			out = append(out, k)
		}
	}
	return out
}
