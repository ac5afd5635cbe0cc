package rpm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/crio-userns/crio-userns/internal/command"
	"github.com/crio-userns/crio-userns/internal/crio"
	"github.com/crio-userns/crio-userns/internal/crioconf"
	"github.com/crio-userns/crio-userns/internal/manifest"
)

// Options select what Stage and Build make.
type Options struct {
	Root        string    // the checkout: patches/, rpm/, hook/, contrib/
	CrioVersion string    // CRI-O module version, e.g. v1.36.3; patches/<it>/ is the series
	Release     string    // N of cri-o's Release 990.userns.N
	HookVersion string    // Version of crio-userns-hook (and of the hook in cri-o)
	HookRelease string    // Release of crio-userns-hook
	Dist        string    // %{dist}, e.g. ".el9"; "" for none
	Out         string    // where the SRPMs and RPMs go; Out/work holds the rest
	Log         io.Writer // output of the commands run (rpmbuild, go)
}

// Names of the generated sources the specs %include.
const (
	MacrosFile = "crio-userns.macros"
	specCrio   = "cri-o"
	specHook   = "crio-userns-hook"
)

var (
	rpmToken = regexp.MustCompile(`^[0-9A-Za-z._+~]+$`) // no '-': it separates N-V-R
	distRe   = regexp.MustCompile(`^(\.[0-9A-Za-z_]+)*$`)
)

// Validate checks the options and fills in Log.
func (o *Options) Validate() error {
	if !strings.HasPrefix(o.CrioVersion, "v") || !rpmToken.MatchString(o.CrioVersion) {
		return fmt.Errorf("CRI-O version %q: want a release tag like v1.36.3", o.CrioVersion)
	}
	for what, v := range map[string]string{"cri-o release N": o.Release, "hook version": o.HookVersion, "hook release": o.HookRelease} {
		if !rpmToken.MatchString(v) {
			return fmt.Errorf("%s %q: letters, digits and ._+~ only (RPM versions have no '-')", what, v)
		}
	}
	if !distRe.MatchString(o.Dist) {
		return fmt.Errorf("dist %q: want something like .el9, or nothing", o.Dist)
	}
	if !filepath.IsAbs(o.Out) || !filepath.IsAbs(o.Root) {
		return fmt.Errorf("root %q and output %q must be absolute", o.Root, o.Out)
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return nil
}

// CrioRPMVersion is cri-o's Version: the CRI-O release without its "v".
func (o *Options) CrioRPMVersion() string { return strings.TrimPrefix(o.CrioVersion, "v") }

// CrioRelease is cri-o's Release, dist included.
func (o *Options) CrioRelease() string { return "990.userns." + o.Release + o.Dist }

// WorkDir is a path under Out/work, where staging and building leave their files.
func (o *Options) WorkDir(p ...string) string { return o.work(p...) }

func (o *Options) work(p ...string) string {
	return filepath.Join(append([]string{o.Out, "work"}, p...)...)
}

// Inputs is what Stage wrote.
type Inputs struct {
	Sources      string   // the SOURCES directory: every file the specs name
	Specs        []string // the spec files, copied from rpm/
	Series       *crio.Series
	SeriesSHA256 string // sha256 of the series' patch files, concatenated in order
	GitID        string // `git describe --always --dirty` of the checkout, '-' made '.'
	// GoMod is how the patched tree's go.mod was changed for `go mod vendor`
	// (crio.ProxySubstitutes: module versions the Go module proxy refuses);
	// cri-o.spec's %prep makes the same change, so that the build agrees
	// with vendor/modules.txt.
	GoMod crio.ModFile
}

// BuildCommit is what `crio version` of the cri-o RPM prints as GitCommit
// (cri-o.spec's crio_userns_buildcommit) for a series of n patches.
func (o *Options) BuildCommit(series string, n int, sha256 string) string {
	return fmt.Sprintf("%s-%s (crio-userns %s: %d patches, sha256 %s)", o.CrioRPMVersion(), o.CrioRelease(), series, n, sha256)
}

// Stage writes Out/work/SOURCES and Out/work/SPECS from scratch.
func Stage(ctx context.Context, o *Options) (*Inputs, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	in := &Inputs{Sources: o.work("SOURCES")}
	for _, d := range []string{in.Sources, o.work("SPECS"), o.work("hook")} {
		if err := os.RemoveAll(d); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(in.Sources, 0o755); err != nil {
		return nil, err
	}

	series, err := crio.LoadSeries(filepath.Join(o.Root, "patches"), o.CrioVersion)
	if err != nil {
		return nil, err
	}
	if len(series.Patches) == 0 {
		return nil, fmt.Errorf("patches/%s holds no patch: an RPM of unmodified CRI-O would only shadow the base one", o.CrioVersion)
	}
	in.Series = series
	h := sha256.New()
	for _, p := range series.Patches {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		h.Write(data)
		if err := os.WriteFile(filepath.Join(in.Sources, filepath.Base(p)), data, 0o644); err != nil {
			return nil, err
		}
	}
	in.SeriesSHA256 = hex.EncodeToString(h.Sum(nil))
	in.GitID = gitID(ctx, o.Root)

	mod, err := stageCrio(ctx, o, in)
	if err != nil {
		return nil, err
	}
	if err := stageHook(ctx, o, in); err != nil {
		return nil, err
	}
	if err := writeGenerated(ctx, o, in, mod); err != nil {
		return nil, err
	}
	for _, name := range []string{specCrio, specHook} {
		src := filepath.Join(o.Root, "rpm", name+".spec")
		dst := o.work("SPECS", name+".spec")
		if err := copyFile(src, dst); err != nil {
			return nil, err
		}
		in.Specs = append(in.Specs, dst)
	}
	return in, nil
}

// stageCrio writes Source0 (pristine CRI-O) and Source1 (vendor/ of the
// patched tree).
func stageCrio(ctx context.Context, o *Options, in *Inputs) (*crio.Module, error) {
	ver := o.CrioRPMVersion()
	fmt.Printf("crio-rpm: CRI-O %s from the Go module proxy\n", o.CrioVersion)
	mod, err := crio.Fetch(ctx, o.CrioVersion)
	if err != nil {
		return nil, err
	}
	date := mod.ReleaseTime()
	if err := WriteTarGz(filepath.Join(in.Sources, "cri-o-"+ver+".tar.gz"), mod.Dir, "cri-o-"+ver, date, nil); err != nil {
		return nil, err
	}
	// Vendor the patched tree: the series may import packages the pristine
	// tree does not, and %prep applies it before anything is compiled.
	tree, err := crio.Prepare(ctx, mod, in.Series, o.work("src", "cri-o-"+o.CrioVersion), o.Log)
	if err != nil {
		return nil, err
	}
	// The release may name a module version the proxy refuses: vendor the
	// substitute the node build uses (the alternate go.mod beside the tree).
	if in.GoMod, err = crio.PrepareModFile(ctx, tree.Dir); err != nil {
		return nil, err
	}
	for _, r := range in.GoMod.Replaced {
		fmt.Printf("crio-rpm: go.mod: %s (the Go module proxy refuses the version CRI-O names; the spec's %%prep replaces it too)\n", r)
	}
	fmt.Printf("crio-rpm: go mod vendor in the patched tree (%d patches)\n", tree.Applied)
	// go mod vendor adds no go.sum line: the substitutes' come first.
	steps := [][]string{{"mod", "vendor"}}
	if len(in.GoMod.Modules) > 0 {
		steps = append([][]string{append([]string{"mod", "download"}, in.GoMod.Modules...)}, steps...)
	}
	for _, args := range steps {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = tree.Dir
		cmd.Env = append(os.Environ(), "GOFLAGS="+in.GoMod.GoFlags(), "GOWORK=off")
		if err := command.Run(cmd, o.Log); err != nil {
			return nil, err
		}
	}
	vendor := filepath.Join(tree.Dir, "vendor")
	if err := WriteTarGz(filepath.Join(in.Sources, "cri-o-"+ver+"-vendor.tar.gz"), vendor, "vendor", date, nil); err != nil {
		return nil, err
	}
	return mod, os.RemoveAll(vendor)
}

// hookExtra are the files of the checkout the hook's source archive carries
// besides the packages the hook and its tests import and the sources of the
// manifest's entries: module files, licence, the manifest and its installer.
var hookExtra = []string{"go.mod", "go.sum", "LICENSE", "README.md", "hook/", manifest.File, "rpm/install-manifest.sh"}

// stageHook writes the hook's sources and their vendor/: the checkout's files
// (tracked or not ignored, as they are now) of every package of this module
// the hook and the tests of those packages need.
func stageHook(ctx context.Context, o *Options, in *Inputs) error {
	dirs, err := hookPackageDirs(ctx, o.Root)
	if err != nil {
		return err
	}
	files, err := checkoutFiles(ctx, o.Root)
	if err != nil {
		return err
	}
	m, err := manifest.Load(o.Root)
	if err != nil {
		return err
	}
	shipped := map[string]bool{}
	for _, e := range m.Entries {
		shipped[e.Source] = true
	}
	keep := func(rel string) bool {
		if shipped[rel] {
			return true
		}
		for _, x := range hookExtra {
			if rel == x || strings.HasSuffix(x, "/") && strings.HasPrefix(rel, x) {
				return true
			}
		}
		for _, d := range dirs {
			if filepath.Dir(rel) == d || strings.HasPrefix(rel, d+"/testdata/") {
				return true
			}
		}
		return false
	}
	name := "crio-userns-" + o.HookVersion
	dst := o.work("hook", name)
	n := 0
	for _, rel := range files {
		if !keep(rel) {
			continue
		}
		if err := copyFile(filepath.Join(o.Root, rel), filepath.Join(dst, rel)); err != nil {
			return err
		}
		n++
	}
	// The drop-in cri-o.spec installs is the one for this CRI-O line.
	dropIns, err := crioconf.DropIns(o.Root, o.CrioVersion)
	if err != nil {
		return err
	}
	for _, d := range dropIns {
		if err := os.WriteFile(filepath.Join(dst, d.Source), d.Content, 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("crio-rpm: hook sources: %d files of %d packages; go mod vendor\n", n, len(dirs))
	if err := goRun(ctx, dst, o.Log, "mod", "vendor"); err != nil {
		return err
	}
	date := commitTime(ctx, o.Root)
	noVendor := func(rel string, d fs.DirEntry) bool { return rel != "vendor" }
	if err := WriteTarGz(filepath.Join(in.Sources, name+".tar.gz"), dst, name, date, noVendor); err != nil {
		return err
	}
	return WriteTarGz(filepath.Join(in.Sources, name+"-vendor.tar.gz"), filepath.Join(dst, "vendor"), "vendor", date, nil)
}

// hookPackageDirs returns the checkout-relative directories of this module's
// packages that the hook's packages, and their tests, import: the closure
// of `go list -deps -test`.
func hookPackageDirs(ctx context.Context, root string) ([]string, error) {
	seen := map[string]bool{}
	patterns := []string{"./hook/..."}
	for len(patterns) > 0 {
		args := append([]string{"list", "-deps", "-test", "-f", "{{if and .Module .Module.Main}}{{.Dir}}{{end}}"}, patterns...)
		out, err := goOutput(ctx, root, args...)
		if err != nil {
			return nil, err
		}
		patterns = nil
		for _, dir := range strings.Fields(out) {
			rel, err := filepath.Rel(root, dir)
			if err != nil || strings.HasPrefix(rel, "..") {
				return nil, fmt.Errorf("package directory %s is outside the checkout %s", dir, root)
			}
			rel = filepath.ToSlash(rel)
			if !seen[rel] {
				seen[rel] = true
				patterns = append(patterns, "./"+rel)
			}
		}
	}
	dirs := make([]string, 0, len(seen))
	for d := range seen {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	return dirs, nil
}

// checkoutFiles lists the checkout's files as git sees them (tracked, or new
// and not ignored), skipping tracked files deleted from the work tree.
func checkoutFiles(ctx context.Context, root string) ([]string, error) {
	cmd := exec.CommandContext(ctx, "git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing the checkout's files (git ls-files in %s): %w", root, err)
	}
	var files []string
	seen := map[string]bool{}
	for _, f := range strings.Split(string(out), "\x00") {
		if f == "" || seen[f] {
			continue
		}
		seen[f] = true
		if info, err := os.Lstat(filepath.Join(root, f)); err == nil && info.Mode().IsRegular() {
			files = append(files, f)
		}
	}
	sort.Strings(files)
	return files, nil
}

// gitID names the checkout's commit for the hook's version: "42d5028" or
// "42d5028.dirty" when the work tree has changes.
func gitID(ctx context.Context, root string) string {
	out, err := exec.CommandContext(ctx, "git", "-C", root, "describe", "--always", "--dirty").Output()
	id := strings.TrimSpace(string(out))
	if err != nil || id == "" {
		return "unknown"
	}
	return strings.ReplaceAll(id, "-", ".")
}

func commitTime(ctx context.Context, root string) time.Time {
	out, err := exec.CommandContext(ctx, "git", "-C", root, "log", "-1", "--format=%ct").Output()
	var sec int64
	if err == nil {
		if _, err := fmt.Sscan(string(out), &sec); err == nil {
			return time.Unix(sec, 0).UTC()
		}
	}
	return time.Now().UTC().Truncate(time.Second)
}

// goRun runs the go command in dir for staging: modules may come from the
// proxy here (rpmbuild is the step that must not need it).
func goRun(ctx context.Context, dir string, log io.Writer, args ...string) error {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	return command.Run(cmd, log)
}

func goOutput(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go %s in %s: %w\n%s", strings.Join(args, " "), dir, err, stderr.String())
	}
	return string(out), nil
}

func copyFile(src, dst string) error {
	info, err := os.Stat(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, info.Mode().Perm()|0o200)
}

// DefaultVersion sets CrioVersion, when empty, to the newest series of the
// checkout at Root.
func (o *Options) DefaultVersion() error {
	if o.CrioVersion != "" {
		return nil
	}
	v, err := crio.DefaultSeries(filepath.Join(o.Root, "patches"))
	o.CrioVersion = v
	return err
}

// RegisterFlags adds the options' flags to fs: the build and the checks take
// the same ones, so that they agree on what was built. out is the -out flag.
func (o *Options) RegisterFlags(fs *flag.FlagSet, out *string) {
	fs.StringVar(&o.CrioVersion, "crio-version", "", "CRI-O release; patches/<it> is the series (default: the newest series)")
	fs.StringVar(&o.Release, "release", "1", "N of cri-o's Release 990.userns.N")
	fs.StringVar(&o.HookVersion, "hook-version", "0.1.0", "Version of crio-userns-hook")
	fs.StringVar(&o.HookRelease, "hook-release", "1", "Release of crio-userns-hook")
	fs.StringVar(&o.Dist, "dist", ".el9", "%{dist} of the target: .el9, .el8, or empty")
	fs.StringVar(out, "out", "_output/rpm", "where the SRPMs and RPMs are (work files in OUT/work)")
}
