package crio

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// ProxySubstitutes maps module@version pairs that some CRI-O release
// requires but the Go module proxy reachable here refuses ("403 Forbidden:
// This module version is not available") to the nearest later version it
// serves. v1.35.2 requires go-criu v8.1.0; v8.2.0 is the next release, API
// compatible, and what v1.36.3 uses.
var ProxySubstitutes = map[string]string{
	"github.com/checkpoint-restore/go-criu/v8@v8.1.0": "v8.2.0",
}

// ModFile is how the go command must treat a tree's module: GoFlags for the
// environment of go build, go test, go list and go mod vendor.
type ModFile struct {
	// Replaced lists the substitutions in effect ("path@old => new").
	Replaced []string
	// EditArgs are the `go mod edit` flags (-replace=path@old=path@new)
	// that make the tree's go.mod the alternate one: what a build from the
	// tree's own go.mod elsewhere (the RPM's) must apply to match.
	EditArgs []string
	// Modules are the paths of the substituted modules.
	Modules []string
	// Path is the alternate go.mod (empty when the tree's own serves); it
	// lives beside the tree, never in it, so the tree stays the pristine
	// release plus the series.
	Path string
}

// GoFlags is the GOFLAGS value for the tree: module mode (CRI-O's module
// download has no vendor/), no VCS stamping, and the alternate go.mod.
func (m ModFile) GoFlags() string {
	flags := "-mod=mod -buildvcs=false"
	if m.Path != "" {
		flags += " -modfile=" + m.Path
	}
	return flags
}

// Stamp identifies the substitutions, for build stamps.
func (m ModFile) Stamp() string {
	h := sha256.Sum256([]byte(strings.Join(m.Replaced, "\n")))
	return hex.EncodeToString(h[:])
}

// PrepareModFile returns how to build tree: when its go.mod requires a
// version in ProxySubstitutes it writes tree+".build.mod" (and .build.sum, a
// copy of go.sum that the go command completes) with a replace directive for
// each.
func PrepareModFile(ctx context.Context, tree string) (ModFile, error) {
	// The go command runs inside the tree: the paths it gets are absolute.
	tree, err := filepath.Abs(tree)
	if err != nil {
		return ModFile{}, err
	}
	out, err := exec.CommandContext(ctx, "go", "mod", "edit", "-json", tree+"/go.mod").Output()
	if err != nil {
		return ModFile{}, fmt.Errorf("reading %s/go.mod: %w", tree, err)
	}
	var gomod struct {
		Require []struct{ Path, Version string }
	}
	if err := json.Unmarshal(out, &gomod); err != nil {
		return ModFile{}, fmt.Errorf("reading %s/go.mod: %w", tree, err)
	}
	var m ModFile
	var args []string
	for _, r := range gomod.Require {
		if to, ok := ProxySubstitutes[r.Path+"@"+r.Version]; ok {
			m.Replaced = append(m.Replaced, fmt.Sprintf("%s@%s => %s", r.Path, r.Version, to))
			args = append(args, fmt.Sprintf("-replace=%s@%s=%s@%s", r.Path, r.Version, r.Path, to))
			m.Modules = append(m.Modules, r.Path)
		}
	}
	sort.Strings(m.Replaced)
	sort.Strings(args)
	m.EditArgs = args
	base := tree + ".build"
	if len(args) == 0 {
		_ = os.Remove(base + ".mod")
		_ = os.Remove(base + ".sum")
		return m, nil
	}
	m.Path = base + ".mod"
	for src, dst := range map[string]string{tree + "/go.mod": base + ".mod", tree + "/go.sum": base + ".sum"} {
		if err := copyFile(src, dst, 0o644); err != nil {
			return ModFile{}, fmt.Errorf("writing the build's go.mod: %w", err)
		}
	}
	edit := exec.CommandContext(ctx, "go", append([]string{"mod", "edit", "-modfile=" + m.Path}, args...)...)
	edit.Dir = tree
	if out, err := edit.CombinedOutput(); err != nil {
		return ModFile{}, fmt.Errorf("go mod edit %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return m, nil
}
