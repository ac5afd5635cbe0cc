package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/crio-userns/crio-userns/internal/cri"
	"github.com/crio-userns/crio-userns/internal/repo"
	"github.com/crio-userns/crio-userns/test/images"
	"github.com/crio-userns/crio-userns/test/node"
	"github.com/crio-userns/crio-userns/test/vm"
)

// A peer's suite as the judge: SIG Node's CRI validation suite (critest,
// cri-tools v1.36.0, built in the test/critest module) against pristine and
// patched CRI-O on the guest node, where infra containers can run. Its
// images come from a loopback registry in the guest holding stand-ins built
// here, to which the node's registries.conf points the names critest pulls. The patched build must pass every spec the pristine build passes.

// critestVersion is the cri-tools release test/critest/go.mod requires.
const critestVersion = "v1.36.0"

// critestOutcome is one flavour's run: spec name → state (passed, failed,
// skipped, ...), from critest's JUnit report.
type critestOutcome struct {
	Specs   map[string]string `json:"specs"`
	Elapsed time.Duration     `json:"elapsed"`
	Key     string            `json:"key"`
	// Left is what the node held once critest's pods were removed: a
	// failing spec can leave more behind than any of the suite's scenarios.
	Left *node.Leftovers `json:"left,omitempty"`
}

func (o *critestOutcome) count(state string) int {
	n := 0
	for _, s := range o.Specs {
		if s == state {
			n++
		}
	}
	return n
}

func TestCritestPatchedPassesWhatPristinePasses(t *testing.T) {
	if !onGuest() {
		t.Skip("critest needs infra containers, which the host bench cannot run (no CAP_SYS_RESOURCE): it runs on the guest node (make critest)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Minute)
	defer cancel()
	bin := e2eDir("critest", "bin")
	for _, b := range []struct{ out, pkg string }{
		{"critest", ""}, {"critest-registry", "./cmd/critest-registry"},
	} {
		if err := buildCritestTool(ctx, filepath.Join(bin, b.out), b.pkg); err != nil {
			t.Fatal(err)
		}
	}
	index, err := images.BuildCritest(ctx, e2eDir("images"))
	if err != nil {
		t.Fatal(err)
	}
	results := map[flavour]*critestOutcome{}
	for _, f := range []flavour{pristine, patched} {
		results[f] = critestRun(ctx, t, f, bin, index)
		o := results[f]
		t.Logf("critest %s on %s CRI-O (guest node, crun): %d passed, %d failed, %d skipped of %d specs in %s",
			critestVersion, f, o.count("passed"), o.count("failed"), o.count("skipped"), len(o.Specs), o.Elapsed.Round(time.Second))
	}
	var lost []string
	for spec, state := range results[pristine].Specs {
		if state == "passed" && results[patched].Specs[spec] != "passed" {
			lost = append(lost, spec)
		}
	}
	sort.Strings(lost)
	summary := fmt.Sprintf("critest %s: pristine %d passed, patched %d passed (of %d)",
		critestVersion, results[pristine].count("passed"), results[patched].count("passed"), len(results[patched].Specs))
	_ = os.WriteFile(e2eDir("critest", "summary.txt"), []byte(summary+"\n"), 0o644)
	fmt.Println(summary)
	if len(lost) > 0 {
		t.Errorf("specs pristine CRI-O passes and patched CRI-O does not:\n  %s", strings.Join(lost, "\n  "))
	}
	if more := leftMore(results[patched].Left, results[pristine].Left); len(more) > 0 {
		t.Errorf("after critest patched CRI-O left more behind than pristine CRI-O: %s\npatched: %v\npristine: %v",
			strings.Join(more, ", "), results[patched].Left, results[pristine].Left)
	}
	if results[pristine].count("passed") == 0 {
		t.Errorf("pristine CRI-O passed no spec: the run is broken, not a baseline")
	}
}

// buildCritestTool builds critest (pkg "") or a command of test/critest,
// statically: both run in the guest.
func buildCritestTool(ctx context.Context, out, pkg string) error {
	args := []string{"test", "-c", "-o", out, "sigs.k8s.io/cri-tools/cmd/critest"}
	if pkg != "" {
		args = []string{"build", "-o", out, pkg}
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = filepath.Join(repo.MustRoot(), "test", "critest")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// critestRun runs critest against a node of flavour f, or returns the
// result of an earlier run with the same inputs (CRI-O binary, critest,
// stand-ins, guest image, drop-ins), as go test caches a package's result:
// a run under TCG takes many minutes.
func critestRun(ctx context.Context, t *testing.T, f flavour, bin, index string) *critestOutcome {
	t.Helper()
	n := nodeFor(t, f).(guestNode)
	key, err := critestKey(f, bin, index, n)
	if err != nil {
		t.Fatal(err)
	}
	cache := e2eDir("critest", "results", string(f)+".json")
	if data, err := os.ReadFile(cache); err == nil && os.Getenv("CRIO_USERNS_CRITEST") != "fresh" {
		var o critestOutcome
		if json.Unmarshal(data, &o) == nil && o.Key == key {
			t.Logf("critest on %s: inputs unchanged since the run recorded in %s (CRIO_USERNS_CRITEST=fresh reruns it)", f, cache)
			return &o
		}
	}
	agent := n.Guest.Agent
	ready := e2eDir("critest", "registry.ready")
	_ = os.Remove(ready)
	reg, err := agent.Exec(ctx, vm.ExecRequest{Args: []string{"systemd-run", "--unit=critest-registry", "--collect",
		filepath.Join(bin, "critest-registry"), "-addr", node.CritestRegistry, "-images", index, "-ready", ready}, Timeout: time.Minute})
	if err != nil || reg.ExitCode != 0 {
		t.Fatalf("starting the registry in the guest: %v %+v", err, reg)
	}
	defer agent.Exec(context.Background(), vm.ExecRequest{Args: []string{"systemctl", "stop", "critest-registry"}, Timeout: time.Minute})
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(time.Second) {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if time.Now().After(deadline) {
			log, _ := agent.Exec(ctx, vm.ExecRequest{Args: []string{"journalctl", "-u", "critest-registry", "--no-pager"}})
			t.Fatalf("the registry in the guest was not ready in 5 minutes:\n%+v", log)
		}
	}
	junit := e2eDir("critest", "junit-"+string(f)+".xml")
	_ = os.Remove(junit)
	socket := "unix://" + node.Layout{State: vm.GuestState}.Socket()
	start := time.Now()
	res, err := agent.Exec(ctx, vm.ExecRequest{Args: []string{filepath.Join(bin, "critest"),
		"--runtime-endpoint", socket, "--image-endpoint", socket,
		"--ginkgo.junit-report", junit, "--ginkgo.no-color", "--ginkgo.timeout", "80m"}, Timeout: 85 * time.Minute})
	if err != nil {
		t.Fatalf("running critest in the guest: %v", err)
	}
	elapsed := time.Since(start)
	_ = os.WriteFile(e2eDir("critest", "output-"+string(f)+".txt"), []byte(res.Stdout+res.Stderr), 0o644)
	specs, err := readJUnit(junit)
	if err != nil {
		t.Fatalf("critest on %s (exit %d) left no report: %v\n%s", f, res.ExitCode, err, lastLines(res.Stdout+res.Stderr, 40))
	}
	o := &critestOutcome{Specs: specs, Elapsed: elapsed, Key: key}
	// Specs that fail leave their pods behind; once CRI-O has removed them,
	// what the node still holds is compared between the builds: pristine
	// CRI-O leaves pinned namespaces of a user-namespaced pod behind here,
	// and the series must add nothing to that.
	if client, err := cri.Dial(n.Socket()); err == nil {
		if _, err := client.RemovePods(ctx, nil); err != nil {
			t.Errorf("removing critest's pods: %v", err)
		}
		client.Close()
	}
	left, err := n.CheckIdle(ctx)
	if err != nil {
		t.Fatalf("after critest on %s: %v", f, err)
	}
	if !left.Empty() {
		o.Left = left
		t.Logf("after critest the %s node holds (the next node's start clears it):\n%s", f, left)
		releaseNode(t)
	}
	if data, err := json.Marshal(o); err == nil {
		_ = os.MkdirAll(filepath.Dir(cache), 0o755)
		_ = os.WriteFile(cache, data, 0o644)
	}
	return o
}

// leftMore names the kinds of leftovers of which a holds more than b.
func leftMore(a, b *node.Leftovers) []string {
	if a == nil {
		return nil
	}
	if b == nil {
		b = &node.Leftovers{}
	}
	var more []string
	for _, k := range []struct {
		what string
		a, b []string
	}{
		{"processes", a.Processes, b.Processes},
		{"mounts", a.Mounts, b.Mounts},
		{"pinned namespaces", a.PinnedNamespaces, b.PinnedNamespaces},
		{"storage containers", a.StorageContainers, b.StorageContainers},
		{"cgroups", a.Cgroups, b.Cgroups},
	} {
		if len(k.a) > len(k.b) {
			more = append(more, fmt.Sprintf("%d %s (pristine: %d)", len(k.a), k.what, len(k.b)))
		}
	}
	return more
}

// critestKey digests every input of a run.
func critestKey(f flavour, bin, index string, n guestNode) (string, error) {
	h := sha256.New()
	files := []string{filepath.Join(f.binDir(), "crio"), filepath.Join(f.binDir(), "pinns"),
		filepath.Join(bin, "critest"), filepath.Join(bin, "critest-registry"), index}
	drop, _ := filepath.Glob(filepath.Join(repo.MustRoot(), "contrib", "crio.conf.d", "*.conf"))
	files = append(files, drop...)
	for _, p := range files {
		fd, err := os.Open(p)
		if err != nil {
			return "", err
		}
		_, err = io.Copy(h, fd)
		fd.Close()
		if err != nil {
			return "", err
		}
	}
	fmt.Fprintf(h, "guest image %s\n", n.Guest.Image.Key)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// readJUnit returns each spec's state from a ginkgo JUnit report.
func readJUnit(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var suites struct {
		Suites []struct {
			Cases []struct {
				Name    string    `xml:"name,attr"`
				Status  string    `xml:"status,attr"`
				Skipped *struct{} `xml:"skipped"`
				Failure *struct{} `xml:"failure"`
				Error   *struct{} `xml:"error"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &suites); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	specs := map[string]string{}
	for _, s := range suites.Suites {
		for _, c := range s.Cases {
			if strings.HasPrefix(c.Name, "[BeforeSuite]") || strings.HasPrefix(c.Name, "[AfterSuite]") {
				continue
			}
			state := c.Status
			switch {
			case c.Failure != nil || c.Error != nil:
				state = "failed"
			case c.Skipped != nil && state == "":
				state = "skipped"
			case state == "":
				state = "passed"
			}
			specs[c.Name] = state
		}
	}
	if len(specs) == 0 {
		return nil, fmt.Errorf("%s lists no spec", path)
	}
	return specs, nil
}
