package crio

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/crio-userns/crio-userns/internal/command"
)

// BuildTags are the tags the node bench builds CRI-O with: seccomp (needs
// libseccomp), no GPGME (openpgp in Go instead) and no btrfs/devicemapper
// graph drivers, whose C headers this machine does not carry. The RPM
// follows OpenShift's cri-o.spec instead (rpm/cri-o.spec).
var BuildTags = []string{
	"seccomp",
	"containers_image_openpgp",
	"exclude_graphdriver_btrfs",
	"exclude_graphdriver_devicemapper",
}

// versionPkg is where CRI-O's Makefile injects build metadata.
const versionPkg = "github.com/cri-o/cri-o/internal/version"

// Binaries is what Build leaves in its output directory.
type Binaries struct {
	Dir    string
	Crio   string
	Pinns  string
	Reused bool
	// Replaced lists dependency substitutions the build needed (ProxySubstitutes).
	Replaced []string
}

// Build compiles crio and pinns from t into outDir/bin. The link flags are the
// ones CRI-O's Makefile uses (buildDate, buildCommit, -s -w), so `crio version`
// names the exact tree, patches included.
func Build(ctx context.Context, t *Tree, outDir string, log io.Writer) (*Binaries, error) {
	// The compiler runs inside the tree: a relative -o would land there.
	outDir, err := filepath.Abs(outDir)
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(outDir, "bin")
	mod, err := PrepareModFile(ctx, t.Dir)
	if err != nil {
		return nil, err
	}
	b := &Binaries{Dir: outDir, Crio: filepath.Join(bin, "crio"), Pinns: filepath.Join(bin, "pinns"), Replaced: mod.Replaced}
	stamp := buildStamp(t, mod)
	stampFile := filepath.Join(outDir, ".stamp")
	if old, err := os.ReadFile(stampFile); err == nil && string(old) == stamp && exists(b.Crio) && exists(b.Pinns) {
		b.Reused = true
		return b, nil
	}
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return nil, err
	}
	_ = os.Remove(stampFile)

	ldflags := strings.Join([]string{
		"-s", "-w",
		"-X", versionPkg + ".buildDate=" + t.Date.UTC().Format("2006-01-02T15:04:05Z"),
		"-X", versionPkg + ".buildCommit=" + t.Head,
	}, " ")
	goBuild := exec.CommandContext(ctx, "go", "build", "-trimpath",
		"-tags", strings.Join(BuildTags, " "), "-ldflags", ldflags,
		"-o", b.Crio, "./cmd/crio")
	goBuild.Dir = t.Dir
	// The module zip has no vendor/: dependencies come from the module proxy.
	goBuild.Env = append(os.Environ(), "GOFLAGS="+mod.GoFlags(), "CGO_ENABLED=1")
	if err := command.Run(goBuild, log); err != nil {
		return nil, fmt.Errorf("building crio in %s: %w", t.Dir, err)
	}

	makePinns := exec.CommandContext(ctx, "make", "-C", filepath.Join(t.Dir, "pinns"))
	if err := command.Run(makePinns, log); err != nil {
		return nil, fmt.Errorf("building pinns in %s: %w", t.Dir, err)
	}
	if err := copyFile(filepath.Join(t.Dir, "bin", "pinns"), b.Pinns, 0o755); err != nil {
		return nil, fmt.Errorf("installing pinns: %w", err)
	}
	return b, os.WriteFile(stampFile, []byte(stamp), 0o644)
}

func buildStamp(t *Tree, mod ModFile) string {
	h := sha256.New()
	fmt.Fprintf(h, "build v1\ntree %s\nhead %s\ngo %s\ntags %s\n", t.Stamp, t.Head, runtime.Version(), strings.Join(BuildTags, ","))
	if len(mod.Replaced) > 0 {
		fmt.Fprintf(h, "replaced %s\n", mod.Stamp())
	}
	return hex.EncodeToString(h.Sum(nil))
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
