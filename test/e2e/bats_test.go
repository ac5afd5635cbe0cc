package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crio-userns/crio-userns/internal/repo"
	"github.com/crio-userns/crio-userns/test/images"
	"github.com/crio-userns/crio-userns/test/vm"
)

// CRI-O's own user-namespace integration test, test/ctr_userns.bats from
// the release's module download, run with bats in the guest against
// pristine and patched CRI-O: the harness starts crio itself (its helpers,
// its config), with CRI-O's CI mappings. Its images are stand-ins in the
// "dir:" form its helpers import with copyimg.

// batsImages are the harness's IMAGES (test/common.sh) by the directory
// img2dir gives each, and the stand-in each gets.
var batsImages = map[string]string{
	"pause-image":          "pause",          // registry.k8s.io/pause: /pause
	"fedora_crio-ci-image": "fedora-standin", // quay.io/crio/fedora-crio-ci: /bin/sleep
	"hello_wasm-image":     "fedora-standin", // quay.io/crio/hello-wasm: only listed
}

func TestCtrUsernsBats(t *testing.T) {
	if !onGuest() {
		t.Skip("CRI-O's bats harness runs on the guest node (make e2e-vm): systemd cgroup manager and crun, as in CRI-O's CI")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	// The harness runs a crio of its own: the suite's node steps aside.
	nodeFor(t, patched)
	if err := downAndCheck(); err != nil {
		t.Fatal(err)
	}
	root := e2eDir("bats")
	tree := filepath.Join(repo.MustRoot(), "_output", "src", "cri-o-"+crioVersion+"-pristine")
	if _, err := os.Stat(filepath.Join(tree, "test", "ctr_userns.bats")); err != nil {
		t.Fatalf("CRI-O %s's tree (make crio PRISTINE=1): %v", crioVersion, err)
	}
	suite, err := stageBatsSuite(ctx, root, tree)
	if err != nil {
		t.Fatal(err)
	}
	results := map[flavour]map[string]string{}
	for _, f := range []flavour{pristine, patched} {
		env := []string{
			"CRIO_BINARY_PATH=" + filepath.Join(f.binDir(), "crio"),
			"PINNS_BINARY_PATH=" + filepath.Join(f.binDir(), "pinns"),
			"CONTAINER_UID_MAPPINGS=0:100000:100000", "CONTAINER_GID_MAPPINGS=0:200000:100000",
			"COPYIMG_BINARY=" + filepath.Join(root, "bin", "copyimg"),
			"CRICTL_BINARY=" + filepath.Join(root, "bin", "crictl"),
			"ARTIFACTS_PATH=" + filepath.Join(root, "artifacts"),
			"CONTAINER_SECCOMP_PROFILE=" + filepath.Join(root, "seccomp.json"),
			"CONTAINER_CNI_PLUGIN_DIR=/usr/lib/cni",
			// Pods get only lo: the guest has no network to bridge to.
			"CNI_TYPE=loopback",
			"CONTAINER_DEFAULT_RUNTIME=crun",
		}
		res, err := theGuest.Agent.Exec(ctx, vm.ExecRequest{Args: []string{"bats", "--tap", "ctr_userns.bats"}, Env: env, Dir: suite, Timeout: 15 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		_ = os.WriteFile(filepath.Join(root, "output-"+string(f)+".txt"), []byte(res.Stdout+res.Stderr), 0o644)
		results[f], _ = batsResults(res.Stdout)
		t.Logf("ctr_userns.bats on %s CRI-O (exit %d):\n%s", f, res.ExitCode, res.Stdout)
		if len(results[f]) == 0 {
			t.Fatalf("bats ran no test on %s:\n%s", f, lastLines(res.Stdout+res.Stderr, 40))
		}
	}
	passed := func(f flavour) int {
		n := 0
		for _, r := range results[f] {
			if r == "ok" {
				n++
			}
		}
		return n
	}
	summary := fmt.Sprintf("ctr_userns.bats: pristine %d passed, patched %d passed (of %d)", passed(pristine), passed(patched), len(results[patched]))
	fmt.Println(summary)
	_ = os.WriteFile(filepath.Join(root, "summary.txt"), []byte(summary+"\n"), 0o644)
	for name, r := range results[pristine] {
		if r == "ok" && results[patched][name] != "ok" {
			t.Errorf("%q passes on pristine CRI-O and not on patched", name)
		}
	}
	if passed(pristine) == 0 {
		t.Errorf("no bats test passed on pristine CRI-O: the harness is broken, not a baseline")
	}
	if left := theGuestLeftovers(ctx); left != "" {
		t.Errorf("the bats runs left in the guest: %s", left)
	}
}

// stageBatsSuite puts what the harness needs under root (a directory the
// guest shares): the test/ directory of the CRI-O source tree, copyimg
// built from it, crictl from test/critest's cri-tools, the stand-in images
// as "dir:" copies and the seccomp profile CRI-O vendors. It returns the
// test directory.
func stageBatsSuite(ctx context.Context, root, tree string) (string, error) {
	if err := os.RemoveAll(filepath.Join(root, "cri-o")); err != nil {
		return "", err
	}
	for _, dir := range []string{filepath.Join(root, "cri-o"), filepath.Join(root, "bin"), filepath.Join(root, "artifacts")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
	}
	run := func(dir string, env []string, name string, args ...string) error {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := run("", nil, "cp", "-a", filepath.Join(tree, "test"), filepath.Join(root, "cri-o")); err != nil {
		return "", err
	}
	if err := run(tree, []string{"GOFLAGS=-mod=mod", "CGO_ENABLED=1"}, "go", "build", "-tags",
		"containers_image_openpgp exclude_graphdriver_btrfs exclude_graphdriver_devicemapper",
		"-o", filepath.Join(root, "bin", "copyimg"), "./test/copyimg"); err != nil {
		return "", err
	}
	if err := run(filepath.Join(repo.MustRoot(), "test", "critest"), []string{"CGO_ENABLED=0"}, "go", "build",
		"-o", filepath.Join(root, "bin", "crictl"), "sigs.k8s.io/cri-tools/cmd/crictl"); err != nil {
		return "", err
	}
	// The tree's go.mod names the version CRI-O vendors.
	list := exec.CommandContext(ctx, "go", "list", "-mod=mod", "-f", "{{.Dir}}", "go.podman.io/common/pkg/seccomp")
	list.Dir = tree
	seccomp, err := list.Output()
	if err != nil {
		return "", fmt.Errorf("locating CRI-O's seccomp profile: %w", err)
	}
	if err := run("", nil, "cp", filepath.Join(strings.TrimSpace(string(seccomp)), "seccomp.json"), filepath.Join(root, "seccomp.json")); err != nil {
		return "", err
	}
	built, err := images.Build(ctx, e2eDir("images"))
	if err != nil {
		return "", err
	}
	byName := map[string]images.Image{}
	for _, img := range built {
		byName[img.Name] = img
	}
	for dir, name := range batsImages {
		dst := filepath.Join(root, "artifacts", dir)
		_ = os.RemoveAll(dst)
		if err := run("", nil, "skopeo", "copy", "--quiet", "--insecure-policy", byName[name].OCIReference(), "dir:"+dst); err != nil {
			return "", err
		}
	}
	return filepath.Join(root, "cri-o", "test"), nil
}

// theGuestLeftovers reports the harness's leftovers: crio processes and
// pod scopes.
func theGuestLeftovers(ctx context.Context) string {
	res, err := theGuest.Agent.Exec(ctx, vm.ExecRequest{Args: []string{"sh", "-c",
		"pgrep -a -x crio; pgrep -a conmon; find /sys/fs/cgroup -name 'crio-*.scope' -type d"}, Timeout: time.Minute})
	if err != nil {
		return err.Error()
	}
	return strings.TrimSpace(res.Stdout)
}
