// Package e2e runs the project's scenarios on a real CRI-O node: CRI-O built
// from the module proxy (pristine or with patches/<version>), Debian's runc
// and conmon, and real pods driven over CRI by podrun.
//
// The tests need root. Without it they fail, unless E2E=skip is set: CI must
// never pass by skipping them silently.
package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/crio-userns/crio-userns/internal/crio"
	"github.com/crio-userns/crio-userns/internal/crioconf"
	"github.com/crio-userns/crio-userns/internal/repo"
	"github.com/crio-userns/crio-userns/internal/testenv"
	"github.com/crio-userns/crio-userns/test/images"
	"github.com/crio-userns/crio-userns/test/node"
)

// flavour selects which CRI-O build a node runs.
type flavour string

const (
	pristine flavour = "pristine"
	patched  flavour = "patched"
	// withHook is patched CRI-O with crio-userns-hook installed from
	// contrib/hooks.d (enforce mode).
	withHook flavour = "hook"
	// withAuditHook is the same with the hook's policy in audit mode.
	withAuditHook flavour = "hook-audit"
	// patchedNoCaps is patched CRI-O with userns_reinstate_capabilities
	// emptied (CRI-O's own default) by a drop-in after contrib's.
	patchedNoCaps flavour = "patched-nocaps"
	// pristineWithHook is unmodified CRI-O with crio-userns-hook installed
	// (enforce mode): what the hook alone stops on a stock node.
	pristineWithHook flavour = "pristine-hook"
	// withHookNoMinimum is withHook on a node without contrib's
	// minimum_mappable_uid/gid, where the hook is the last line of defence.
	withHookNoMinimum flavour = "hook-no-minimum"
	// patchedNodeMappings is patched CRI-O with node-wide uid_mappings and
	// gid_mappings, which userns-mode "private" without mappings gives pods
	// (and every pod without a mode: keep other tests off this node).
	patchedNodeMappings flavour = "patched-node-mappings"
)

// hooked says the flavour's node has crio-userns-hook installed.
func (f flavour) hooked() bool {
	return f == withHook || f == withAuditHook || f == pristineWithHook || f == withHookNoMinimum
}

// flavourDropIns sort after contrib's 99-crio-userns.conf and override it.
var flavourDropIns = map[flavour]map[string]string{
	patchedNoCaps:       {"99-zz-e2e-no-reinstate-caps.conf": "[crio.runtime]\nuserns_reinstate_capabilities = []\n"},
	patchedNodeMappings: {"99-zz-e2e-node-mappings.conf": "[crio.runtime]\nuid_mappings = \"0:400000000:65536\"\ngid_mappings = \"0:400000000:65536\"\n"},
	// The hook is the last line of defence on nodes that lack contrib's
	// minimum_mappable_uid/gid: there CRI-O lets a mapping that holds host
	// root through to the hook.
	withHookNoMinimum: {"99-zz-e2e-no-minimum.conf": noMinimum},
	withAuditHook:     {"99-zz-e2e-no-minimum.conf": noMinimum},
}

const noMinimum = "[crio.runtime]\nminimum_mappable_uid = -1\nminimum_mappable_gid = -1\n"

// crioVersion is the CRI-O release the suite runs: $CRIO_VERSION, else the
// newest series (make test runs the suite once per supported version).
// defaultVersion is the newest series: the pristine baseline runs there only.
var crioVersion, defaultVersion = suiteVersions()

func suiteVersions() (run, newest string) {
	newest, err := crio.DefaultSeries(filepath.Join(repo.MustRoot(), "patches"))
	if err != nil {
		panic(err)
	}
	run = os.Getenv("CRIO_VERSION")
	if run == "" {
		run = newest
	}
	if _, err := crio.ParseRelease(run); err != nil {
		panic(fmt.Sprintf("CRIO_VERSION: %v", err))
	}
	return run, newest
}

// crioRelease is crioVersion parsed.
func crioRelease() crio.Release {
	r, _ := crio.ParseRelease(crioVersion)
	return r
}

// requireFlavour skips t when this run does not include flavour f: pristine
// CRI-O is the baseline of the default version only, which documents the
// defects the series fixes; on the other versions the suite runs the
// patched scenarios. The reason is printed, so no skip goes unseen.
func requireFlavour(t testing.TB, f flavour) {
	t.Helper()
	if f.build() == pristine && crioVersion != defaultVersion {
		t.Skipf("the pristine baseline (%s node) runs on %s only; this run is CRI-O %s", f, defaultVersion, crioVersion)
	}
}

// build is the CRI-O build the flavour's node runs: pristine or patched.
func (f flavour) build() flavour {
	switch f {
	case withHook, withAuditHook, withHookNoMinimum, patchedNoCaps, patchedNodeMappings:
		return patched
	case pristineWithHook:
		return pristine
	}
	return f
}

func (f flavour) binDir() string {
	f = f.build()
	env := map[flavour]string{pristine: "CRIO_PRISTINE_DIR", patched: "CRIO_PATCHED_DIR"}[f]
	if d := os.Getenv(env); d != "" {
		return d
	}
	name := crioVersion
	if f == pristine {
		name += "-pristine"
	}
	return filepath.Join(repo.MustRoot(), "_output", "crio", name, "bin")
}

// current is the one node running at a time: two CRI-O daemons on one
// machine would each allocate auto user-namespace ranges from the same
// /etc/subuid without seeing the other's pods.
var current struct {
	flavour flavour
	node    target
}

// e2eDir is where the suite keeps its nodes and images: _output/e2e, or
// $CRIO_USERNS_E2E_DIR so that two runs on one machine do not collide.
func e2eDir(p ...string) string {
	base := os.Getenv("CRIO_USERNS_E2E_DIR")
	if base == "" {
		base = filepath.Join(repo.MustRoot(), "_output", "e2e")
	}
	return filepath.Join(append([]string{base}, p...)...)
}

// e2eRoot is the checkout's _output.
func e2eRoot() string { return filepath.Join(repo.MustRoot(), "_output") }

// nodeFor returns a running node of flavour f, bringing down (and checking)
// a node of the other flavour first. It is a host bench node, or CRI-O in
// the guest when $CRIO_USERNS_E2E_NODE=guest.
func nodeFor(t testing.TB, f flavour) target {
	t.Helper()
	requireFlavour(t, f)
	testenv.RequireRoot(t)
	if current.node != nil && current.flavour == f {
		return current.node
	}
	if current.node != nil {
		if err := downAndCheck(); err != nil {
			t.Fatal(err)
		}
	}
	dropIns, err := nodeDropIns(f)
	if err != nil {
		t.Fatal(err)
	}
	var hooks map[string][]byte
	if f.hooked() {
		if hooks, err = installHook(t, f); err != nil {
			t.Fatal(err)
		}
	}
	if onGuest() {
		n, err := guestNodeUp(t, f, dropIns, hooks)
		if err != nil {
			t.Fatalf("bringing up the %s node in the guest: %v", f, err)
		}
		current.flavour, current.node = f, n
		return n
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	n, err := node.Up(ctx, node.Config{
		State:      e2eDir("node-" + crioVersion + "-" + string(f)),
		CrioDir:    f.binDir(),
		DropIns:    dropIns,
		Hooks:      hooks,
		LoadImages: images.Loader(e2eDir("images")),
		Log:        os.Stderr,
	})
	if err != nil {
		t.Fatalf("bringing up the %s node: %v", f, err)
	}
	t.Logf("%s node (CRI-O %s) up in %v (crio pid %d, %s)", f, crioVersion, time.Since(start).Round(time.Millisecond), n.PID(), n.State)
	current.flavour, current.node = f, hostNode{n}
	return current.node
}

// nodeDropIns checks that f's build is the CRI-O release the suite runs and
// returns the project's drop-in for it.
func nodeDropIns(f flavour) (map[string][]byte, error) {
	bin := filepath.Join(f.binDir(), "crio")
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%s CRI-O %s is not built (%v): run `make e2e` or `make crio-both CRIO_VERSION=%s`", f, crioVersion, err, crioVersion)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got, err := crio.BinaryVersion(ctx, bin)
	if err != nil {
		return nil, err
	}
	if got != crioVersion {
		return nil, fmt.Errorf("%s is CRI-O %s, but the suite runs %s (set CRIO_VERSION to match)", bin, got, crioVersion)
	}
	dropIns, err := crioconf.Files(repo.MustRoot(), crioVersion)
	if err != nil {
		return nil, err
	}
	for name, content := range flavourDropIns[f] {
		dropIns[name] = []byte(content)
	}
	return dropIns, nil
}

// releaseNode brings the current node down without judging what it leaves:
// for a test on the guest node that has judged that already. There the
// flavours share one state directory, and the next node's start clears it.
func releaseNode(t testing.TB) {
	t.Helper()
	n := current.node
	current.node = nil
	if n == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := n.Down(ctx); err != nil {
		t.Errorf("bringing the %s node down: %v", current.flavour, err)
	}
	_ = os.RemoveAll(hookRegistry(current.flavour))
}

// downAndCheck brings the current node down and fails if anything is left.
func downAndCheck() error {
	n := current.node
	current.node = nil
	if n == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	left, err := n.Down(ctx)
	_ = os.RemoveAll(hookRegistry(current.flavour))
	if err != nil {
		return fmt.Errorf("bringing the %s node down: %w", current.flavour, err)
	}
	if !left.Empty() {
		return fmt.Errorf("the %s node left things behind:\n%s", current.flavour, left)
	}
	return nil
}

func TestMain(m *testing.M) {
	code := m.Run()
	if err := downAndCheck(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e teardown:", err)
		code = 1
	}
	if err := shutdownGuest(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e teardown of the guest:", err)
		code = 1
	}
	os.Exit(code)
}

// sigterm is a clean CRI-O shutdown.
const sigterm = syscall.SIGTERM
