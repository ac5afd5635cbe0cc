package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
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
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Minute)
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
		res, err := theGuest.Agent.Exec(ctx, vm.ExecRequest{Args: append([]string{"bats", "--tap"}, mainSeriesBats...), Env: env, Dir: suite, Timeout: 40 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		_ = os.WriteFile(filepath.Join(root, "output-"+string(f)+".txt"), []byte(res.Stdout+res.Stderr), 0o644)
		results[f] = map[string]string{}
		for _, m := range tapResult.FindAllStringSubmatch(res.Stdout, -1) {
			results[f][m[2]] = m[1]
		}
		t.Logf("CRI-O main's bats on %s main (exit %d):\n%s", f, res.ExitCode, res.Stdout)
		if len(results[f]) == 0 {
			t.Fatalf("bats ran no test on %s main:\n%s", f, lastLines(res.Stdout+res.Stderr, 40))
		}
	}
	own, err := batsTestNames(filepath.Join(suite), mainSeriesOwnBats)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, name := range sortedKeys(results[patched]) {
		lines = append(lines, fmt.Sprintf("%-7s %-7s %s", results[pristine][name], results[patched][name], name))
		switch {
		case results[patched][name] != "ok":
			t.Errorf("%q fails on main with the series", name)
		case own[name] && results[pristine][name] == "ok":
			t.Errorf("%q, a test of the series, passes on pristine main: it does not test the series", name)
		}
	}
	summary := "pristine patched test (CRI-O main's bats, guest node)\n" + strings.Join(lines, "\n")
	fmt.Println(summary)
	_ = os.WriteFile(filepath.Join(root, "summary.txt"), []byte(summary+"\n"), 0o644)
	if left := theGuestLeftovers(ctx); left != "" {
		t.Errorf("the bats runs left in the guest: %s", left)
	}
}

// batsTestNames returns the names of the @test cases in the files of dir
// that files names, as bats reports them, for the tests that only have to
// fail without the series where the series adds a behaviour.
func batsTestNames(dir string, files map[string]bool) (map[string]bool, error) {
	names := map[string]bool{}
	for f := range files {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return nil, err
		}
		for _, line := range strings.Split(string(data), "\n") {
			if rest, ok := strings.CutPrefix(line, `@test "`); ok {
				if name, _, ok := strings.Cut(rest, `" {`); ok && seriesBehaviour(name) {
					names[name] = true
				}
			}
		}
	}
	return names, nil
}

// seriesBehaviour reports whether the bats test name checks what the
// series adds, rather than what it must leave as upstream has it (nothing
// reinstated where it must not be, a pod-level runAsUser mapped as before).
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
