// Package machineconfig renders what installs crio-userns on an OpenShift
// pool, in one of two modes:
//
//   - image (OpenShift 4.19 and later): a MachineOSConfig whose Containerfile
//     replaces cri-o in the pool's node image with the crio-userns RPM,
//     checksum-pinned, and refuses to build on a node image of another CRI-O
//     line; plus the same Containerfile for an off-cluster build whose image
//     a MachineConfig's osImageURL names by digest.
//   - override (package-based RHCOS pools): a MachineConfig whose oneshot unit
//     runs before CRI-O and the kubelet, downloads the RPMs, checks their
//     sha256 before rpm-ostree sees them, stages them and reboots once.
//
// Both write /etc/subuid and /etc/subgid for the containers user, and both
// check, on the node or in the image, that the packages put every file of
// contrib/files.manifest in place.
package machineconfig

import (
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/crio-userns/crio-userns/internal/manifest"
)

// Command is the generator's name in the outputs' headers.
const Command = "crio-userns-machineconfig"

// Modes.
const (
	ModeImage    = "image"
	ModeOverride = "override"
)

// Options are the generator's inputs; the CLI flags map onto them one to one.
type Options struct {
	Mode string // ModeImage (default) or ModeOverride
	// Role is the MachineConfigPool: worker, master or a custom pool.
	Role string
	// AllowControlPlane must be set for the master pool: a bad CRI-O there
	// takes etcd and the API server down with it.
	AllowControlPlane bool
	// Name is metadata.name; empty means the mode's default for Role.
	Name string
	// CRIORPM is the patched cri-o RPM: an http(s) URL in override mode, the
	// file's name in the build context in image mode. CRIOSHA256 is its
	// sha256, mandatory: nothing installs a file that does not match it.
	CRIORPM, CRIOSHA256 string
	// HookRPM, HookSHA256: the crio-userns-hook RPM (optional), layered.
	HookRPM, HookSHA256 string
	// SubIDs is the containers user's range in /etc/subuid and /etc/subgid.
	SubIDs SubIDRange
	// NoCoreSubID drops core's 100000:65536 line (see coreSubID).
	NoCoreSubID bool
	// CgroupV2 adds CgroupV2KernelArguments (override mode).
	CgroupV2 bool
	Image    ImageOptions
}

// DefaultName is the override MachineConfig's name for a pool: "99-" sorts
// it after the operator's own configs, so its /etc/subuid and /etc/subgid win.
func DefaultName(role string) string { return "99-" + role + "-crio-userns" }

// withDefaults returns the options with every default filled in.
func (o Options) withDefaults() Options {
	if o.Mode == "" {
		o.Mode = ModeImage
	}
	if o.Name == "" {
		o.Name = DefaultName(o.Role)
		if o.Mode == ModeImage {
			// The MachineOSConfig's name must be its pool's.
			o.Name = o.Role
		}
	}
	if o.SubIDs == (SubIDRange{}) {
		o.SubIDs = DefaultSubIDRange
	}
	o.CRIOSHA256 = strings.ToLower(o.CRIOSHA256)
	o.HookSHA256 = strings.ToLower(o.HookSHA256)
	o.Image = o.Image.withDefaults()
	return o
}

// Args is the command line that renders these options, defaults left out:
// each output's header records it, so that the output can be regenerated.
func (o Options) Args() []string {
	o = o.withDefaults()
	args := []string{"--mode", o.Mode, "--role", o.Role}
	if o.AllowControlPlane {
		args = append(args, "--allow-control-plane")
	}
	if def := (Options{Mode: o.Mode, Role: o.Role}).withDefaults().Name; o.Name != def {
		args = append(args, "--name", o.Name)
	}
	for _, f := range []struct{ flag, value string }{
		{"--cri-o-rpm", o.CRIORPM}, {"--cri-o-sha256", o.CRIOSHA256},
		{"--hook-rpm", o.HookRPM}, {"--hook-sha256", o.HookSHA256},
	} {
		if f.value != "" {
			args = append(args, f.flag, f.value)
		}
	}
	args = append(args, o.Image.args()...)
	if o.SubIDs != DefaultSubIDRange {
		args = append(args, "--subid-range", FlagValue(o.SubIDs))
	}
	if o.NoCoreSubID {
		args = append(args, "--core-subid=false")
	}
	if o.CgroupV2 {
		args = append(args, "--cgroupv2")
	}
	return args
}

// Warnings are doubts about the options that do not stop generation.
func (o Options) Warnings() []string {
	var w []string
	if o.CRIORPM != "" && o.HookRPM != "" {
		w = append(w, "both --cri-o-rpm and --hook-rpm: the cri-o RPM of `make rpm` already ships crio-userns-hook, "+
			"and two packages owning /usr/bin/crio-userns-hook with different contents fail the rpm-ostree transaction; "+
			"use --hook-rpm with a cri-o RPM that does not ship the hook, or with the base CRI-O alone")
	}
	if o.Mode == ModeOverride && strings.HasPrefix(o.CRIORPM+o.HookRPM, "http:") {
		w = append(w, "an http:// URL: the sha256 protects the package, not the download's privacy")
	}
	return w
}

// OutputFile is one file the generator writes.
type OutputFile struct {
	Name string // file name: in override mode the -o file, in image mode inside the -o directory
	Data []byte
	What string // what it is, for the command's output
}

// Generate renders the outputs. contrib is the contrib/ directory of the
// checkout (os.DirFS): the manifest and the hook policy are read from it now.
func Generate(o Options, contrib fs.FS) ([]OutputFile, error) {
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	data, err := fs.ReadFile(contrib, strings.TrimPrefix(manifest.File, "contrib/"))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", manifest.File, err)
	}
	m, err := manifest.Parse(data)
	if err != nil {
		return nil, err
	}
	policyData, err := fs.ReadFile(contrib, policySource)
	if err != nil {
		return nil, fmt.Errorf("reading contrib/%s: %w", policySource, err)
	}
	roots, err := projectRootRanges(policyData)
	if err != nil {
		return nil, fmt.Errorf("contrib/%s: %w", policySource, err)
	}
	if err := checkSubIDs(o.SubIDs, !o.NoCoreSubID, roots); err != nil {
		return nil, err
	}
	in := inputs{o: o, expect: o.expectedPaths(m), subid: subIDFile(o.SubIDs, !o.NoCoreSubID)}
	if o.Mode == ModeOverride {
		return generateOverride(in)
	}
	return generateImage(in)
}

// inputs is what both modes render from.
type inputs struct {
	o      Options
	expect []string // paths the packages must put in place
	subid  []byte   // /etc/subuid and /etc/subgid
}

// header is the comment each output starts with.
func (in inputs) header(comment string) string {
	return fmt.Sprintf("%s Generated by %s; edit the inputs, not this file:\n%s   %s %s\n",
		comment, Command, comment, Command, strings.Join(in.o.Args(), " "))
}

// policySource is the hook policy, under contrib/.
const policySource = "crio-userns/policy.toml"

// expectedPaths are the node paths of the manifest entries the selected
// packages ship.
func (o Options) expectedPaths(m *manifest.Manifest) []string {
	pkg := manifest.PackageHook
	if o.CRIORPM != "" {
		pkg = manifest.PackageCrio
	}
	var files []manifest.Entry
	for _, e := range m.For(pkg) {
		if e.Type != manifest.TypeDir {
			files = append(files, e)
		}
	}
	return manifest.Paths(files)
}

func (o Options) validate() error {
	switch o.Mode {
	case ModeImage, ModeOverride:
	default:
		return fmt.Errorf("--mode %q: want image (OpenShift 4.19 and later) or override", o.Mode)
	}
	if errs := validation.IsDNS1123Subdomain(o.Role); len(errs) > 0 || len(validation.IsValidLabelValue(o.Role)) > 0 {
		return fmt.Errorf("--role %q: want a MachineConfigPool name such as worker or master (lower-case letters, digits, '-', '.')", o.Role)
	}
	if o.Role == "master" && !o.AllowControlPlane {
		return fmt.Errorf("--role master: replacing CRI-O on control-plane nodes can take etcd and the API server down with it; " +
			"roll out to a worker pool first, then pass --allow-control-plane")
	}
	if errs := validation.IsDNS1123Subdomain(o.Name); len(errs) > 0 {
		return fmt.Errorf("--name %q: %s", o.Name, strings.Join(errs, "; "))
	}
	if o.CRIORPM == "" && o.HookRPM == "" {
		return fmt.Errorf("nothing to install: give --cri-o-rpm (the patched CRI-O), --hook-rpm (the hook alone), or both")
	}
	for _, r := range []struct{ flag, rpm, sum, name string }{
		{"cri-o", o.CRIORPM, o.CRIOSHA256, "cri-o"},
		{"hook", o.HookRPM, o.HookSHA256, "crio-userns-hook"},
	} {
		if r.rpm == "" {
			if r.sum != "" {
				return fmt.Errorf("--%s-sha256 needs --%s-rpm", r.flag, r.flag)
			}
			continue
		}
		if err := checkSHA256(r.flag, r.sum); err != nil {
			return err
		}
		var err error
		if o.Mode == ModeOverride {
			err = checkRPMURL(r.flag+"-rpm", r.rpm)
		} else {
			err = checkRPMFile(r.flag, r.rpm, r.name)
		}
		if err != nil {
			return err
		}
	}
	if o.Mode == ModeImage {
		return o.Image.validate()
	}
	return nil
}

// checkSHA256: a sha256 is mandatory, as 64 hex digits.
func checkSHA256(flag, sum string) error {
	if sum == "" {
		return fmt.Errorf("--%s-sha256 is mandatory: nodes install nothing whose checksum they cannot check (sha256sum FILE)", flag)
	}
	if b, err := hex.DecodeString(sum); err != nil || len(b) != 32 {
		return fmt.Errorf("--%s-sha256 %q: want the 64 hex digits of sha256sum", flag, sum)
	}
	return nil
}

// checkRPMFile: in image mode the RPM is a file of the build context, named
// as rpmbuild names it (its header is checked again in the build).
func checkRPMFile(flag, file, wantName string) error {
	base := path.Base(file)
	if base != file {
		return fmt.Errorf("--%s-rpm %q: in image mode, the file name of the RPM in the build context (no directory)", flag, file)
	}
	n, err := NEVRAFromURL("file:///" + base)
	if err != nil {
		return fmt.Errorf("--%s-rpm: %w", flag, err)
	}
	if n.Name != wantName {
		return fmt.Errorf("--%s-rpm: package %s is named %q, want %q", flag, n, n.Name, wantName)
	}
	return nil
}
