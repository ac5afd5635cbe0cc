package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crio-userns/crio-userns/internal/crio"
	"github.com/crio-userns/crio-userns/internal/repo"
	"github.com/crio-userns/crio-userns/test/vm"
)

// The bats tests that patches/main adds to CRI-O main, and upstream's own
// user-namespace bats tests beside them, run in the guest with CRI-O's
// harness against main with the series and pristine main. patches/main is
// not a supported version: its trees and builds exist only when a
// developer made them from a CRI-O checkout (make crio CRIO_VERSION=main
// CRIO_SRC=DIR, with and without PRISTINE=1); without them the test skips.

// mainSeriesBats are the files run: the series' own, then upstream's.
var mainSeriesBats = []string{
	"userns_deferred_mappings.bats", "userns_reinstate_capabilities.bats",
	"ctr_userns.bats", "userns_annotation.bats",
}

// mainSeriesOwnBats are the files patches/main adds: their tests must pass
// with the series and have nothing to pass without it.
var mainSeriesOwnBats = map[string]bool{"userns_deferred_mappings.bats": true, "userns_reinstate_capabilities.bats": true}

func TestMainSeriesBats(t *testing.T) {
	if !onGuest() {
		t.Skip("CRI-O's bats harness runs on the guest node (make e2e-vm E2E_VM_RUN=MainSeriesBats): systemd cgroup manager and crun, as in CRI-O's CI")
	}
	out := filepath.Join(repo.MustRoot(), "_output")
	tree := filepath.Join(out, "src", "cri-o-"+crio.MainSeries)
	bins := map[flavour]string{
		patched:  filepath.Join(out, "crio", crio.MainSeries, "bin"),
		pristine: filepath.Join(out, "crio", crio.MainSeries+"-pristine", "bin"),
	}
	for _, p := range []string{filepath.Join(tree, "test", mainSeriesBats[0]), filepath.Join(bins[patched], "crio"), filepath.Join(bins[pristine], "crio")} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("patches/main is not built (make crio CRIO_VERSION=main CRIO_SRC=DIR, and again with PRISTINE=1): %v", err)
		}
	}
	// Under single-threaded TCG a build's run takes about half an hour
	// (pristine main longer: the series' tests wait out their timeouts
	// there); the limits leave room for a loaded machine.
	ctx, cancel := context.WithTimeout(context.Background(), 135*time.Minute)
	defer cancel()
	// The harness runs a crio of its own: the suite's node steps aside.
	nodeFor(t, patched)
	if err := downAndCheck(); err != nil {
		t.Fatal(err)
	}
	root := e2eDir("bats-main")
	suite, err := stageBatsSuite(ctx, root, tree)
	if err != nil {
		t.Fatal(err)
	}
	results := map[flavour]map[string]string{}
	took := map[flavour]time.Duration{}
	for _, f := range []flavour{patched, pristine} {
		// The guest sees the suite's directory, not _output/crio.
		binDir := filepath.Join(root, "crio-"+string(f))
		if err := os.MkdirAll(binDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"crio", "pinns"} {
			if out, err := exec.Command("cp", filepath.Join(bins[f], name), filepath.Join(binDir, name)).CombinedOutput(); err != nil {
				t.Fatalf("staging %s: %v\n%s", name, err, out)
			}
		}
		env := []string{
			"CRIO_BINARY_PATH=" + filepath.Join(binDir, "crio"),
			"PINNS_BINARY_PATH=" + filepath.Join(binDir, "pinns"),
			"COPYIMG_BINARY=" + filepath.Join(root, "bin", "copyimg"),
			"CRICTL_BINARY=" + filepath.Join(root, "bin", "crictl"),
			"ARTIFACTS_PATH=" + filepath.Join(root, "artifacts"),
			"CONTAINER_SECCOMP_PROFILE=" + filepath.Join(root, "seccomp.json"),
			"CONTAINER_CNI_PLUGIN_DIR=/usr/lib/cni",
			"CNI_TYPE=loopback",
			"CONTAINER_DEFAULT_RUNTIME=crun",
		}
		start := time.Now()
		res, err := theGuest.Agent.Exec(ctx, vm.ExecRequest{Args: append([]string{"bats", "--tap"}, mainSeriesBats...), Env: env, Dir: suite, Timeout: 60 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		took[f] = time.Since(start).Round(time.Second)
		_ = os.WriteFile(filepath.Join(root, "output-"+string(f)+".txt"), []byte(res.Stdout+res.Stderr), 0o644)
		var planned int
		results[f], planned = batsResults(res.Stdout)
		t.Logf("CRI-O main's bats on %s main (exit %d, %s):\n%s", f, res.ExitCode, took[f], res.Stdout)
		if len(results[f]) == 0 {
			t.Fatalf("bats ran no test on %s main:\n%s", f, lastLines(res.Stdout+res.Stderr, 40))
		}
		if len(results[f]) != planned {
			t.Errorf("bats reported %d tests on %s main of the %d it planned:\n%s", len(results[f]), f, planned, lastLines(res.Stdout+res.Stderr, 40))
		}
	}
	series, err := batsTestNames(suite, mainSeriesOwnBats)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, name := range sortedKeys(results[patched]) {
		was, is := results[pristine][name], results[patched][name]
		lines = append(lines, fmt.Sprintf("%-7s %-7s %s", was, is, name))
		switch {
		case is == "not ok":
			t.Errorf("%q fails on main with the series", name)
		case is == "skip" && (series[name] || was != "skip"):
			t.Errorf("%q is skipped on main with the series (pristine main: %s): it checked nothing", name, was)
		case series[name] && seriesBehaviour(name) && was == "ok":
			t.Errorf("%q, a test of the series, passes on pristine main: it does not test the series", name)
		}
	}
	summary := fmt.Sprintf("CRI-O main's bats on the guest node: main with the series %s in %s; pristine main %s in %s\n",
		batsCounts(results[patched]), took[patched], batsCounts(results[pristine]), took[pristine]) +
		"pristine patched test\n" + strings.Join(lines, "\n")
	fmt.Println(summary)
	_ = os.WriteFile(filepath.Join(root, "summary.txt"), []byte(summary+"\n"), 0o644)
	if left := theGuestLeftovers(ctx); left != "" {
		t.Errorf("the bats runs left in the guest: %s", left)
	}
}

// batsTestNames returns the names of the @test cases in the files of dir
// that files names, as bats reports them.
func batsTestNames(dir string, files map[string]bool) (map[string]bool, error) {
	names := map[string]bool{}
	for f := range files {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return nil, err
		}
		for _, line := range strings.Split(string(data), "\n") {
			if rest, ok := strings.CutPrefix(line, `@test "`); ok {
				if name, _, ok := strings.Cut(rest, `" {`); ok {
					names[name] = true
				}
			}
		}
	}
	return names, nil
}

// tapLine is one test's line in bats' TAP output: "ok N name", "not ok N
// name", or "ok N name # skip (reason)" for a test that skipped itself.
var tapLine = regexp.MustCompile(`(?m)^(ok|not ok) \d+ (.*?)( # skip\b.*)?$`)

// tapPlan is TAP's plan line, "1..N": how many tests bats is about to run.
var tapPlan = regexp.MustCompile(`(?m)^1\.\.(\d+)$`)

// batsResults reads bats' TAP output: each test's result ("ok", "not ok"
// or "skip") by name, and how many tests the plan announced (0 without a
// plan), so that a run cut short is not taken for a complete one.
func batsResults(tap string) (map[string]string, int) {
	results := map[string]string{}
	for _, m := range tapLine.FindAllStringSubmatch(tap, -1) {
		result := m[1]
		if m[3] != "" {
			result = "skip"
		}
		results[m[2]] = result
	}
	planned := 0
	if m := tapPlan.FindStringSubmatch(tap); m != nil {
		planned, _ = strconv.Atoi(m[1])
	}
	return results, planned
}

// batsCounts says how many of the results passed, failed and skipped.
func batsCounts(results map[string]string) string {
	n := map[string]int{}
	for _, r := range results {
		n[r]++
	}
	return fmt.Sprintf("%d passed, %d failed, %d skipped", n["ok"], n["not ok"], n["skip"])
}

// seriesBehaviour reports whether the bats test name, one of the series',
// checks what the series adds, rather than what it must leave as upstream
// has it (nothing reinstated where it must not be, a pod-level runAsUser
// mapped as before): only those have to fail without the series.
func seriesBehaviour(name string) bool {
	return !strings.Contains(name, "gives nothing back") && !strings.Contains(name, "with a pod-level run_as_user")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestBatsResults(t *testing.T) {
	tap := "1..5\n" +
		"ok 1 userns map-to-root maps the first container's run_as_user to root\n" +
		"not ok 2 userns keep-id maps it to itself\n" +
		"# (in test file test/userns_deferred_mappings.bats, line 98)\n" +
		"ok 3 userns map-to-root refuses a first container in the subordinate range of other pods # skip the subordinate UID range of containers is too small\n" +
		"ok 4 ctr_userns run container # skip\n" +
		"ok 5 a test # skipped: not a directive, part of the name\n"
	results, planned := batsResults(tap)
	want := map[string]string{
		"userns map-to-root maps the first container's run_as_user to root":                   "ok",
		"userns keep-id maps it to itself":                                                    "not ok",
		"userns map-to-root refuses a first container in the subordinate range of other pods": "skip",
		"ctr_userns run container":                                                            "skip",
		"a test # skipped: not a directive, part of the name":                                 "ok",
	}
	if planned != 5 {
		t.Errorf("planned = %d, want 5", planned)
	}
	if fmt.Sprint(results) != fmt.Sprint(want) {
		t.Errorf("batsResults:\n got %v\nwant %v", results, want)
	}
	if got := batsCounts(results); got != "2 passed, 1 failed, 2 skipped" {
		t.Errorf("batsCounts = %q", got)
	}
	if results, planned := batsResults("1..3\nok 1 first\n"); len(results) != 1 || planned != 3 {
		t.Errorf("a run cut short: %d results of %d planned, want 1 of 3", len(results), planned)
	}
}
