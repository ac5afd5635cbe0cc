package node

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"text/template"
)

// Settings are the node-level choices the drop-in expresses. The host
// bench's follow the measured trial on this machine kind (cgroup v1 hybrid,
// no CAP_SYS_RESOURCE, Debian's runc; Debian 12's crun 1.8.1 rejects OCI
// 1.3.0); the guest node's are an OpenShift node's (systemd, crun).
type Settings struct {
	Layout
	Pinns      string
	Runtime    string // default_runtime: "runc"
	RuntimeBin string
	// OtherRuntimes are further runtime handlers, chosen per pod by its
	// RuntimeClass handler.
	OtherRuntimes []RuntimeHandler
	// CgroupManager is "cgroupfs" (empty) or "systemd".
	CgroupManager string
	Conmon        string
	PauseImage    string
	LogLevel      string
	// DropInfra mirrors CRI-O's drop_infra_ctr; false starts a pause process
	// per pod, which this VM cannot do for lack of CAP_SYS_RESOURCE.
	DropInfra bool
}

// RuntimeHandler is one [crio.runtime.runtimes.NAME] table.
type RuntimeHandler struct{ Name, Path string }

// Handlers lists the default runtime first, then the others.
func (s Settings) Handlers() []RuntimeHandler {
	return append([]RuntimeHandler{{s.Runtime, s.RuntimeBin}}, s.OtherRuntimes...)
}

var nodeDropIn = template.Must(template.New("10-node.conf").Funcs(template.FuncMap{"q": strconv.Quote}).Parse(
	`# Written by the crio-userns node bench: every path is private to this node.
[crio]
root = {{q .StorageRoot}}
runroot = {{q .RunRoot}}
storage_driver = "overlay"
log_dir = {{q .PodLogs}}
version_file = {{q (printf "%s/crio/version" .Run)}}
version_file_persist = {{q (printf "%s/crio/version" .State)}}
clean_shutdown_file = {{q (printf "%s/clean.shutdown" .StorageRoot)}}

[crio.api]
listen = {{q .Socket}}

[crio.runtime]
default_runtime = {{q .Runtime}}
cgroup_manager = {{if .CgroupManager}}{{q .CgroupManager}}{{else}}"cgroupfs"{{end}}
conmon_cgroup = "pod"
hooks_dir = [{{q .HooksDir}}]
pinns_path = {{q .Pinns}}
namespaces_dir = {{q .NamespacesDir}}
container_exits_dir = {{q (printf "%s/crio/exits" .Run)}}
container_attach_socket_dir = {{q (printf "%s/crio" .Run)}}
decryption_keys_path = {{q (printf "%s/keys" .Etc)}}
cdi_spec_dirs = []
log_level = {{q .LogLevel}}
drop_infra_ctr = {{.DropInfra}}
apparmor_profile = ""
enable_criu_support = false

{{range .Handlers}}
[crio.runtime.runtimes.{{.Name}}]
runtime_path = {{q .Path}}
runtime_type = "oci"
runtime_root = {{q (printf "%s/%s" $.Run .Name)}}
monitor_path = {{q $.Conmon}}
monitor_cgroup = "pod"
{{end}}
[crio.image]
pause_image = {{q .PauseImage}}
signature_policy = {{q .Policy}}
signature_policy_dir = {{q (printf "%s/policies" .Etc)}}
short_name_mode = "disabled"

[crio.network]
network_dir = {{q .CNIDir}}
plugin_dirs = ["/usr/lib/cni"]

[crio.metrics]
enable_metrics = false

[crio.nri]
enable_nri = false
`))

// loopbackCNI gives pods nothing but lo: test traffic never leaves the
// machine. Every CRI-O on a machine shares libcni's result cache
// (/var/lib/cni/results) and garbage-collects the cached attachments of its
// network that it does not know; a network name of the node's own keeps one
// node from deleting another's (seen as "neither IPv4 nor IPv6 found when
// retrieving network status" when two nodes ran at once).
func loopbackCNI(l Layout) []byte {
	sum := sha256.Sum256([]byte(l.State))
	return fmt.Appendf(nil, `{ "cniVersion": "1.0.0", "name": "loopback-only-%x", "plugins": [ { "type": "loopback" } ] }
`, sum[:6])
}

// The node never pulls from the internet; images are preloaded into storage.
// The names critest pulls resolve to its stand-in registry (test/critest) on
// loopback, which only the critest run starts, as mirrors resolve them on an
// air-gapped node: the images keep the names critest looks for.
const registriesConf = `unqualified-search-registries = []

[[registry]]
prefix = "registry.k8s.io"
location = "` + CritestRegistry + `"
insecure = true

[[registry]]
prefix = "k8s.gcr.io"
location = "` + CritestRegistry + `"
insecure = true

[[registry]]
prefix = "gcr.io/k8s-staging-cri-tools"
location = "` + CritestRegistry + `/k8s-staging-cri-tools"
insecure = true
`

// CritestRegistry is where the critest stand-in registry listens.
const CritestRegistry = "127.0.0.1:5000"

const acceptLocalImages = `{"default":[{"type":"insecureAcceptAnything"}]}
`

// WriteConfig writes crio.conf, the node drop-in, the given extra drop-ins
// (name → content, e.g. the project's 99-crio-userns.conf) and the files
// CRI-O reads beside them. Old drop-ins are removed so a node never runs
// with a stale option from an earlier test.
func WriteConfig(s Settings, dropIns map[string][]byte) error {
	if err := os.RemoveAll(s.DropInDir()); err != nil {
		return err
	}
	for _, dir := range []string{s.DropInDir(), s.RegistriesDir(), s.CNIDir(), s.HooksDir(), s.Run(), s.NamespacesDir(), s.Logs(), s.PodLogs(), filepath.Join(s.Run(), "crio", "exits"), filepath.Join(s.Etc(), "keys"), filepath.Join(s.Etc(), "policies")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	var node bytes.Buffer
	if err := nodeDropIn.Execute(&node, s); err != nil {
		return fmt.Errorf("rendering node drop-in: %w", err)
	}
	files := map[string][]byte{
		s.ConfigFile(): []byte("# crio-userns node bench: all settings are in crio.conf.d\n"),
		filepath.Join(s.DropInDir(), "10-node.conf"): node.Bytes(),
		s.Registries(): []byte(registriesConf),
		s.Policy():     []byte(acceptLocalImages),
		filepath.Join(s.CNIDir(), "10-loopback.conflist"): loopbackCNI(s.Layout),
	}
	for name, content := range dropIns {
		if filepath.Base(name) != name || filepath.Ext(name) != ".conf" {
			return fmt.Errorf("drop-in name %q: want a plain NAME.conf", name)
		}
		files[filepath.Join(s.DropInDir(), name)] = content
	}
	for path, content := range files {
		if err := os.WriteFile(path, content, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return nil
}
