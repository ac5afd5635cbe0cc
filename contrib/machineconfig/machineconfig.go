// Package machineconfig renders the OpenShift MachineConfig that delivers
// crio-userns to RHCOS nodes the way field report 000 delivers its runc: a
// systemd unit that runs `rpm -q NEVRA || rpm-ostree override replace
// --reboot URL`, /etc/subuid and /etc/subgid for the containers user, and the
// operator files of contrib/ (the crio.conf.d drop-in, the hooks.d JSON and
// the hook policy) as Ignition data URLs, byte for byte as shipped, so a node
// is configured even before the RPM lands.
package machineconfig

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"strings"

	"github.com/BurntSushi/toml"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// IgnitionVersion is the Ignition spec of spec.config: the version the
// Machine Config Operator renders and accepts since OpenShift 4.7 (newer
// releases translate it to their own).
const IgnitionVersion = "3.2.0"

// CgroupV2KernelArguments are field report 000's kernel arguments for a
// cgroup v2 only node.
var CgroupV2KernelArguments = []string{"systemd.unified_cgroup_hierarchy=1", `cgroup_no_v1="all"`, "psi=1"}

// ShippedFile is an operator file of contrib/ that the MachineConfig
// writes to the node unchanged.
type ShippedFile struct {
	Source string // path under contrib/
	Path   string // path on the node
}

// Shipped lists them in the order of the MachineConfig.
//
// The hooks.d JSON goes to /etc/containers/oci/hooks.d: the Machine Config
// Operator's crio.conf.d/00-default sets hooks_dir to /etc/containers/oci/hooks.d,
// /run/containers/oci/hooks.d and /usr/share/containers/oci/hooks.d, and /usr
// is read-only on RHCOS. The RPMs install the same file under
// /usr/share/containers/oci/hooks.d, which this one masks (same name).
var Shipped = []ShippedFile{
	{Source: "crio.conf.d/99-crio-userns.conf", Path: "/etc/crio/crio.conf.d/99-crio-userns.conf"},
	{Source: "hooks.d/crio-userns-hook.json", Path: "/etc/containers/oci/hooks.d/crio-userns-hook.json"},
	{Source: policySource, Path: "/etc/crio-userns/policy.toml"},
}

// Options are the generator's inputs; the CLI flags map onto them one to one.
type Options struct {
	// Role is the MachineConfigPool the MachineConfig applies to (the
	// machineconfiguration.openshift.io/role label): worker, master or a
	// custom pool.
	Role string
	// Name is metadata.name; empty means DefaultName(Role).
	Name string
	// CRIORPM is the URL of the patched cri-o RPM (rpm-ostree override
	// replace); CRIONEVRA is its NEVRA when the URL's file name does not
	// tell it.
	CRIORPM, CRIONEVRA string
	// HookRPM is the URL of the crio-userns-hook RPM, layered with
	// rpm-ostree install; HookNEVRA as CRIONEVRA.
	HookRPM, HookNEVRA string
	// SubIDs is the containers user's range in /etc/subuid and /etc/subgid.
	SubIDs SubIDRange
	// NoCoreSubID drops core's 100000:65536 line, which is kept by default
	// (see coreSubID).
	NoCoreSubID bool
	// CgroupV2 adds CgroupV2KernelArguments.
	CgroupV2 bool
}

// DefaultName is the MachineConfig's name for a pool: "99-" sorts it after
// the operator's own 00-/01- configs, so its /etc/subuid and /etc/subgid win
// over any earlier ones.
func DefaultName(role string) string { return "99-" + role + "-crio-userns" }

// withDefaults returns the options with every default filled in.
func (o Options) withDefaults() Options {
	if o.Name == "" {
		o.Name = DefaultName(o.Role)
	}
	if o.SubIDs == (SubIDRange{}) {
		o.SubIDs = DefaultSubIDRange
	}
	return o
}

// Args is the command line of crio-userns-machineconfig that renders these
// options, defaults left out: the header of the output records it so that the
// file can be regenerated.
func (o Options) Args() []string {
	o = o.withDefaults()
	args := []string{"--role", o.Role}
	if o.Name != DefaultName(o.Role) {
		args = append(args, "--name", o.Name)
	}
	for _, f := range []struct{ flag, value string }{
		{"--cri-o-rpm", o.CRIORPM}, {"--cri-o-nevra", o.CRIONEVRA},
		{"--hook-rpm", o.HookRPM}, {"--hook-nevra", o.HookNEVRA},
	} {
		if f.value != "" {
			args = append(args, f.flag, f.value)
		}
	}
	if o.SubIDs != DefaultSubIDRange {
		args = append(args, "--subid-range", o.SubIDs.String())
	}
	if o.NoCoreSubID {
		args = append(args, "--core-subid=false")
	}
	if o.CgroupV2 {
		args = append(args, "--cgroupv2")
	}
	return args
}

// Warnings are the doubts about the options that do not stop generation.
func (o Options) Warnings() []string {
	var w []string
	if o.CRIORPM != "" && o.HookRPM != "" {
		w = append(w, "both --cri-o-rpm and --hook-rpm: the cri-o RPM of `make rpm` already ships crio-userns-hook, "+
			"and two packages owning /usr/bin/crio-userns-hook with different contents fail the rpm-ostree transaction; "+
			"use --hook-rpm with a cri-o RPM that does not ship the hook, or with the base CRI-O alone")
	}
	return w
}

// rpmRef is one RPM the unit installs.
type rpmRef struct {
	url   string
	nevra NEVRA
}

// Command is the generator's name in the output's header.
const Command = "crio-userns-machineconfig"

// Generate renders the MachineConfig as YAML. contrib is the contrib/
// directory of the checkout (os.DirFS); the files of Shipped are read from it
// now, so the output always carries the files as they are.
func Generate(o Options, contrib fs.FS) ([]byte, error) {
	o = o.withDefaults()
	if errs := validation.IsDNS1123Subdomain(o.Role); len(errs) > 0 || len(validation.IsValidLabelValue(o.Role)) > 0 {
		return nil, fmt.Errorf("--role %q: want a MachineConfigPool name such as worker or master (lower-case letters, digits, '-', '.')", o.Role)
	}
	if errs := validation.IsDNS1123Subdomain(o.Name); len(errs) > 0 {
		return nil, fmt.Errorf("--name %q: %s", o.Name, strings.Join(errs, "; "))
	}
	crio, hook, err := o.rpms()
	if err != nil {
		return nil, err
	}
	files, err := readShipped(contrib)
	if err != nil {
		return nil, err
	}
	var policy shippedContents
	for _, f := range files {
		if f.source == policySource {
			policy = f
		}
	}
	roots, err := projectRootRanges(policy.contents)
	if err != nil {
		return nil, fmt.Errorf("contrib/%s: %w", policySource, err)
	}
	if err := o.SubIDs.check(!o.NoCoreSubID, roots); err != nil {
		return nil, err
	}
	subid := subIDFile(o.SubIDs, !o.NoCoreSubID)

	mc := machineConfig{APIVersion: "machineconfiguration.openshift.io/v1", Kind: "MachineConfig"}
	mc.Metadata.Name = o.Name
	mc.Metadata.Labels = map[string]string{"machineconfiguration.openshift.io/role": o.Role}
	if o.CgroupV2 {
		mc.Spec.KernelArguments = CgroupV2KernelArguments
	}
	cfg := &mc.Spec.Config
	cfg.Ignition.Version = IgnitionVersion
	cfg.Systemd.Units = []unit{{Name: UnitName, Enabled: true, Contents: unitContents(crio, hook)}}
	cfg.Storage.Files = append(cfg.Storage.Files, file("/etc/subuid", subid), file("/etc/subgid", subid))
	for _, f := range files {
		cfg.Storage.Files = append(cfg.Storage.Files, file(f.path, f.contents))
	}

	body, err := yaml.Marshal(mc)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "# Generated by %s; edit the inputs, not this file:\n", Command)
	fmt.Fprintf(&out, "#   %s %s\n", Command, strings.Join(o.Args(), " "))
	out.WriteString("# The crio.conf.d, hooks.d and crio-userns files are contrib/'s, byte for byte (contrib/machineconfig/README.md).\n")
	out.Write(body)
	return out.Bytes(), nil
}

func (o Options) rpms() (crio, hook *rpmRef, err error) {
	if o.CRIORPM == "" && o.HookRPM == "" {
		return nil, nil, fmt.Errorf("nothing to install: give --cri-o-rpm (the patched CRI-O), --hook-rpm (the hook alone), or both")
	}
	if o.CRIORPM == "" && o.CRIONEVRA != "" {
		return nil, nil, fmt.Errorf("--cri-o-nevra needs --cri-o-rpm")
	}
	if o.HookRPM == "" && o.HookNEVRA != "" {
		return nil, nil, fmt.Errorf("--hook-nevra needs --hook-rpm")
	}
	if o.CRIORPM != "" {
		if err := checkRPMURL("cri-o-rpm", o.CRIORPM); err != nil {
			return nil, nil, err
		}
		n, err := resolveNEVRA("cri-o", o.CRIORPM, o.CRIONEVRA, "cri-o", "rpm-ostree override replace only replaces the base package of the same name")
		if err != nil {
			return nil, nil, err
		}
		crio = &rpmRef{url: o.CRIORPM, nevra: n}
	}
	if o.HookRPM != "" {
		if err := checkRPMURL("hook-rpm", o.HookRPM); err != nil {
			return nil, nil, err
		}
		n, err := resolveNEVRA("hook", o.HookRPM, o.HookNEVRA, "crio-userns-hook", "the package rpm/crio-userns-hook.spec builds")
		if err != nil {
			return nil, nil, err
		}
		hook = &rpmRef{url: o.HookRPM, nevra: n}
	}
	return crio, hook, nil
}

type shippedContents struct {
	source, path string
	contents     []byte
}

// policySource is the hook policy among Shipped.
const policySource = "crio-userns/policy.toml"

// readShipped reads Shipped from contrib and checks that each still parses
// as what it is (TOML, JSON), so a broken checkout fails here rather than on
// the nodes.
func readShipped(contrib fs.FS) ([]shippedContents, error) {
	var out []shippedContents
	for _, s := range Shipped {
		data, err := fs.ReadFile(contrib, s.Source)
		if err != nil {
			return nil, fmt.Errorf("reading contrib/%s: %w", s.Source, err)
		}
		switch {
		case strings.HasSuffix(s.Source, ".json"):
			if !json.Valid(data) {
				return nil, fmt.Errorf("contrib/%s is not valid JSON", s.Source)
			}
		default:
			var v map[string]any
			if _, err := toml.Decode(string(data), &v); err != nil {
				return nil, fmt.Errorf("contrib/%s: %w", s.Source, err)
			}
		}
		out = append(out, shippedContents{source: s.Source, path: s.Path, contents: data})
	}
	return out, nil
}

// DataURL is the Ignition contents.source of a text file, in the form field
// report 000 uses.
func DataURL(data []byte) string {
	return "data:text/plain;charset=utf-8;base64," + base64.StdEncoding.EncodeToString(data)
}

// fileMode is 0644 (Ignition takes it in decimal).
const fileMode = 0o644

func file(path string, data []byte) ignFile {
	f := ignFile{Path: path, Overwrite: true, Mode: fileMode}
	f.Contents.Source = DataURL(data)
	return f
}

// machineConfig is the part of machineconfiguration.openshift.io/v1
// MachineConfig this tool writes; spec.config is an Ignition 3.2.0 config.
// The tests check the result with Ignition's own parser.
type machineConfig struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		KernelArguments []string       `json:"kernelArguments,omitempty"`
		Config          ignitionConfig `json:"config"`
	} `json:"spec"`
}

type ignitionConfig struct {
	Ignition struct {
		Version string `json:"version"`
	} `json:"ignition"`
	Storage struct {
		Files []ignFile `json:"files"`
	} `json:"storage"`
	Systemd struct {
		Units []unit `json:"units"`
	} `json:"systemd"`
}

type ignFile struct {
	Path      string `json:"path"`
	Overwrite bool   `json:"overwrite"`
	Mode      int    `json:"mode"`
	Contents  struct {
		Source string `json:"source"`
	} `json:"contents"`
}

type unit struct {
	Name     string `json:"name"`
	Enabled  bool   `json:"enabled"`
	Contents string `json:"contents"`
}
