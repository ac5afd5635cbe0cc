package machineconfig

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"

	"sigs.k8s.io/yaml"
)

// IgnitionVersion is the Ignition spec of spec.config: the version the
// Machine Config Operator renders and accepts since OpenShift 4.7 (newer
// releases translate it to their own).
const IgnitionVersion = "3.2.0"

// CgroupV2KernelArguments are field report 000's kernel arguments for a
// cgroup v2 only node.
var CgroupV2KernelArguments = []string{"systemd.unified_cgroup_hierarchy=1", `cgroup_no_v1="all"`, "psi=1"}

// Override mode's node files.
const (
	UnitName   = "crio-userns-override.service"
	ScriptPath = "/usr/local/bin/crio-userns-override"
	EnvPath    = "/etc/crio-userns/override.env"
	// ProxyEnvPath is where the Machine Config Operator writes the cluster's
	// proxy settings (its own units read it the same way).
	ProxyEnvPath = "/etc/mco/proxy.env"
)

// OverrideScript is the unit's program (override.sh).
//
//go:embed override.sh
var OverrideScript []byte

// checkRPMURL accepts the http(s) URLs the unit fetches, without characters
// that an EnvironmentFile line would need quoting for (quotes, backslash, $,
// backquote, whitespace) and without credentials, which every reader of
// MachineConfigs could see.
func checkRPMURL(flag, raw string) error {
	for _, c := range raw {
		if c <= ' ' || c == 0x7f || strings.ContainsRune(`'"\$`+"`", c) {
			return fmt.Errorf("--%s %q: contains %q, which the unit's environment file cannot carry; percent-encode it", flag, raw, c)
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("--%s: %w", flag, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("--%s %q: want an https:// (or, with its sha256, http://) URL that the nodes can fetch", flag, raw)
	case u.Host == "":
		return fmt.Errorf("--%s %q: no host", flag, raw)
	case u.User != nil:
		return fmt.Errorf("--%s %q: credentials in the URL would be readable by anyone who can read MachineConfigs", flag, raw)
	}
	return nil
}

// envFile is override.env: the script's settings.
func (in inputs) envFile() []byte {
	var b strings.Builder
	b.WriteString(in.header("#"))
	for _, kv := range [][2]string{
		{"CRIO_RPM_URL", in.o.CRIORPM}, {"CRIO_RPM_SHA256", in.o.CRIOSHA256},
		{"HOOK_RPM_URL", in.o.HookRPM}, {"HOOK_RPM_SHA256", in.o.HookSHA256},
	} {
		if kv[1] != "" {
			fmt.Fprintf(&b, "%s=%s\n", kv[0], kv[1])
		}
	}
	fmt.Fprintf(&b, "EXPECT_PATHS=%q\n", strings.Join(in.expect, " "))
	return []byte(b.String())
}

// unitContents is the systemd unit. Type=oneshot ordered before crio and
// the kubelet and required by both: the reboot it may need happens before any
// pod runs on that boot, and when it fails neither starts, so the node stays
// NotReady with the reason in its journal instead of running the wrong CRI-O.
func (in inputs) unitContents() string {
	var what []string
	if in.o.CRIORPM != "" {
		what = append(what, "replace CRI-O")
	}
	if in.o.HookRPM != "" {
		what = append(what, "layer crio-userns-hook")
	}
	return "[Unit]\n" +
		"Description=crio-userns: " + strings.Join(what, ", ") + " (rpm-ostree), before CRI-O and the kubelet start\n" +
		"Documentation=https://github.com/crio-userns/crio-userns/blob/main/contrib/machineconfig/README.md\n" +
		"Wants=network-online.target\n" +
		"After=network-online.target rpm-ostreed.service\n" +
		"Before=kubelet.service crio.service\n" +
		"ConditionPathExists=/run/ostree-booted\n" +
		"\n" +
		"[Service]\n" +
		"Type=oneshot\n" +
		"RemainAfterExit=yes\n" +
		"EnvironmentFile=" + EnvPath + "\n" +
		"EnvironmentFile=-" + ProxyEnvPath + "\n" +
		"ExecStart=" + ScriptPath + "\n" +
		"TimeoutStartSec=1h\n" +
		"\n" +
		"[Install]\n" +
		"RequiredBy=crio.service kubelet.service\n" +
		"WantedBy=multi-user.target\n"
}

func generateOverride(in inputs) ([]OutputFile, error) {
	o := in.o
	mc := machineConfig{APIVersion: "machineconfiguration.openshift.io/v1", Kind: "MachineConfig"}
	mc.Metadata.Name = o.Name
	mc.Metadata.Labels = map[string]string{"machineconfiguration.openshift.io/role": o.Role}
	if o.CgroupV2 {
		mc.Spec.KernelArguments = CgroupV2KernelArguments
	}
	cfg := &mc.Spec.Config
	cfg.Ignition.Version = IgnitionVersion
	cfg.Systemd.Units = []unit{{Name: UnitName, Enabled: true, Contents: in.unitContents()}}
	cfg.Storage.Files = []ignFile{
		file(ScriptPath, 0o755, OverrideScript),
		file(EnvPath, 0o644, in.envFile()),
		file("/etc/subuid", 0o644, in.subid),
		file("/etc/subgid", 0o644, in.subid),
	}
	body, err := yaml.Marshal(mc)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.WriteString(in.header("#"))
	out.Write(body)
	return []OutputFile{{Name: o.Name + ".yaml", Data: out.Bytes(), What: "MachineConfig (oc apply -f)"}}, nil
}

// DataURL is the Ignition contents.source of a file.
func DataURL(data []byte) string {
	return "data:text/plain;charset=utf-8;base64," + base64.StdEncoding.EncodeToString(data)
}

func file(path string, mode int, data []byte) ignFile {
	f := ignFile{Path: path, Overwrite: true, Mode: mode}
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
