package app

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"golang.org/x/sys/unix"
)

const (
	pfx          = "crio-userns-hook: proj/web/app: "
	fixState     = "run the hook from an OCI runtime's createRuntime stage, which writes the container state to stdin"
	fixConfig    = "check the bundle path the runtime passed; the hook refuses containers it cannot read"
	fixDamaged   = "the runtime passed a damaged config.json; recreate the container"
	fixPolicy    = "fix the policy file (see crio-userns-hook(8)); user-namespaced containers are refused until then"
	fixLive      = "the container process is gone or its map is unreadable; retry, and check the OCI runtime if it persists"
	fixRoot      = `map the container to an unprivileged host range (userns-mode "auto") or set allow_host_root = true in the policy`
	fixRangesU   = `allocate host IDs from the allowed ranges (userns-mode "auto" takes them from the subid file) or add the range to allowed_uids in the policy`
	fixCrossPod  = `give each pod its own host range (userns-mode "auto", or a "private:" mapping disjoint from other pods), or delete the other pod`
	fixLiveDiff  = "the OCI runtime did not apply the configured mapping: check the runtime and CRI-O's pinned namespaces, then recreate the pod"
	fixOverlapC  = "give each extent its own container IDs"
	fixOverlapH  = "give each extent its own host IDs"
	fixRegistry  = "make registry_dir writable for root; if the registry is damaged, remove it (see REGISTRY in crio-userns-hook(8))"
	allowedUIDs  = "200000-268635455 from allowed_uids; single-ID root extents also 1000000000-1999999999"
	fixKubelet   = `the kubelet allocates hostUsers: false pods from the "kubelet" entries of the subid files (read with getsubids) or else from 65536-4294967295: set kubelet_subid_owner or kubelet_default_range in the policy to the node kubelet's range, or add the range to allowed_uids in the policy`
	accountsFix6 = `map container IDs 0-65534 (a size of at least 65535, e.g. userns-mode "auto:size=65536"), or drop the accounts from the image`
)

func str(s string) *string { return &s }

// native makes f a native Kubernetes user-namespaced container (pod
// hostUsers: false): the kubelet's one 65536-ID block from host ID first,
// for UIDs and GIDs, and no userns-mode annotation.
func (f *fixture) native(first uint32) {
	f.spec.Linux.UIDMappings = uidMaps(0, first, 65536)
	f.spec.Linux.GIDMappings = uidMaps(0, first, 65536)
}

func TestHook(t *testing.T) {
	for _, tc := range []struct {
		name     string
		setup    func(f *fixture)
		wantCode int
		// wantLine is the exact first stderr line; "" means stderr must be
		// empty (a silent pass).
		wantLine string
		// wantLog, when set, must appear in the stderr records.
		wantLog string
		after   func(t *testing.T, f *fixture, stderr string)
	}{
		{name: "auto mapping passes silently", setup: func(f *fixture) {}},
		{name: "map-to-root into the project range passes", setup: func(f *fixture) {
			f.spec.Linux.UIDMappings = uidMaps(1, 200000, 65535, 0, 1000650000, 1)
		}},
		{name: "no user namespace exits 0 without reading the policy", setup: func(f *fixture) {
			f.noUserns()
			f.policy = "mode = broken"
		}},
		{name: "live map listed in another order and split passes", setup: func(f *fixture) {
			f.spec.Linux.UIDMappings = uidMaps(1, 200000, 65535, 0, 1000650000, 1)
			f.liveUID = "0 1000650000 1\n1 200000 5\n6 200005 65530\n"
		}},
		{name: "joined namespace without maps in config.json uses the live ones", setup: func(f *fixture) {
			f.spec.Linux.Namespaces[3].Path = "/run/crio/ns/userns/pin"
			f.spec.Linux.UIDMappings, f.spec.Linux.GIDMappings = nil, nil
			f.liveUID, f.liveGID = "0 200000 65536\n", "0 200000 65536\n"
		}},

		// Broken input from the runtime.
		{name: "bad JSON on stdin", setup: func(f *fixture) { f.stdin = str(`{"id":`) }, wantCode: 1,
			wantLine: "crio-userns-hook: -/-/-: OCI state on stdin: invalid JSON: unexpected end of JSON input; " + fixState},
		{name: "empty stdin", setup: func(f *fixture) { f.stdin = str("  \n") }, wantCode: 1,
			wantLine: "crio-userns-hook: -/-/-: OCI state on stdin: empty input; " + fixState},
		{name: "state is not an object", setup: func(f *fixture) { f.stdin = str(`[1,2]`) }, wantCode: 1,
			wantLine: "crio-userns-hook: -/-/-: OCI state on stdin: invalid JSON: json: cannot unmarshal array into Go value of type bundle.state; " + fixState},
		{name: "state without bundle", setup: func(f *fixture) { f.state.Bundle = "" }, wantCode: 1,
			wantLine: `crio-userns-hook: -/-/-: OCI state on stdin: no "bundle" path; ` + fixState},
		{name: "relative bundle", setup: func(f *fixture) { f.state.Bundle = "bundle" }, wantCode: 1,
			wantLine: `crio-userns-hook: -/-/-: OCI state on stdin: bundle path "bundle" is not absolute; ` + fixState},
		{name: "state larger than 1 MiB", setup: func(f *fixture) { f.stdin = str(strings.Repeat(" ", 1<<20+1)) }, wantCode: 1,
			wantLine: "crio-userns-hook: -/-/-: OCI state on stdin: larger than 1048576 bytes; " + fixState},
		{name: "missing bundle", setup: func(f *fixture) { f.state.Bundle = "/nonexistent/bundle" }, wantCode: 1,
			wantLine: "crio-userns-hook: -/-/ctr-app: reading the bundle's config.json: open /nonexistent/bundle/config.json: no such file or directory; " + fixConfig},
		{name: "config.json is not JSON", setup: func(f *fixture) {
			f.spec = nil
			f.files["bundle/config.json"] = "{not json"
		}, wantCode: 1,
			wantLine: "crio-userns-hook: -/-/ctr-app: config.json: invalid JSON: invalid character 'n' looking for beginning of object key string; " + fixDamaged},
		{name: "config.json is a FIFO", setup: func(f *fixture) {
			f.spec = nil
			mustT(f.t, os.MkdirAll(f.bundle, 0o755))
			mustT(f.t, syscall.Mkfifo(filepath.Join(f.bundle, "config.json"), 0o644))
		}, wantCode: 1,
			wantLine: "crio-userns-hook: -/-/ctr-app: reading the bundle's config.json: BUNDLE/config.json: not a regular file (a FIFO); " + fixConfig},
		{name: "no pid in the state", setup: func(f *fixture) { f.state.Pid = 0 }, wantCode: 1,
			wantLine: pfx + "OCI state has no container pid; install the hook for the createRuntime stage, where the container process exists"},

		// Policy problems fail closed.
		{name: "policy file missing", setup: func(f *fixture) { f.args = []string{"--policy", "/nonexistent/policy.toml"} }, wantCode: 1,
			wantLine: pfx + "policy /nonexistent/policy.toml: open /nonexistent/policy.toml: no such file or directory; " + fixPolicy},
		{name: "policy unreadable (a directory)", setup: func(f *fixture) { f.args = []string{"--policy", f.dir} }, wantCode: 1,
			wantLine: pfx + "policy DIR: not a regular file (a directory); " + fixPolicy},
		{name: "policy with a bad mode", setup: func(f *fixture) { f.policy = `mode = "permissive"` }, wantCode: 1,
			wantLine: pfx + `policy DIR/policy.toml: mode = "permissive": want "enforce" or "audit"; ` + fixPolicy},
		{name: "policy with a misspelt key", setup: func(f *fixture) { f.policy = `mdoe = "audit"` }, wantCode: 1,
			wantLine: pfx + "policy DIR/policy.toml: unknown key(s): mdoe; " + fixPolicy},

		// Check 1: structure.
		{name: "empty uid map for a new namespace", setup: func(f *fixture) { f.spec.Linux.UIDMappings = nil; f.liveUID = "0 200000 1\n" }, wantCode: 1,
			wantLine: pfx + `user namespace requested with an empty uid_map (no linux.uidMappings); let CRI-O generate the mapping (userns-mode "auto", or hostUsers: false) instead of an empty one`},
		{name: "341 extents", setup: func(f *fixture) {
			var ms []uint32
			for i := uint32(0); i < 341; i++ {
				ms = append(ms, i, 200000+i, 1)
			}
			f.spec.Linux.UIDMappings = uidMaps(ms...)
		}, wantCode: 1,
			wantLine: pfx + "uid_map 341 extents, more than the kernel's limit of 340; use at most 340 extents (merge adjacent ones or map larger ranges)"},
		{name: "zero-size extent", setup: func(f *fixture) {
			f.spec.Linux.UIDMappings = uidMaps(0, 200000, 65536, 70000, 300000, 0)
		}, wantCode: 1,
			wantLine: pfx + "uid_map extent #2 (70000 300000 0) has size 0; give every extent a size of at least 1"},
		{name: "size overflowing 2^32", setup: func(f *fixture) {
			f.spec.Linux.UIDMappings = uidMaps(1, 200000, 4294967295)
		}, wantCode: 1,
			wantLine: pfx + "uid_map extent #1 (1 200000 4294967295) runs past ID 4294967294 on the container side; keep every extent's last ID at or below 4294967294"},
		{name: "extents overlapping inside", setup: func(f *fixture) {
			f.spec.Linux.UIDMappings = uidMaps(0, 200000, 65536, 100, 300000, 10)
		}, wantCode: 1,
			wantLine: pfx + "uid_map extents #1 (0 200000 65536) and #2 (100 300000 10) overlap on the container side (IDs 100-109); " + fixOverlapC},
		{name: "extents overlapping on the host", setup: func(f *fixture) {
			f.spec.Linux.GIDMappings = uidMaps(0, 200000, 65536, 70000, 265000, 10)
		}, wantCode: 1,
			wantLine: pfx + "gid_map extents #1 (0 200000 65536) and #2 (70000 265000 10) overlap on the host side (IDs 265000-265009); " + fixOverlapH},

		// Check 2: host root.
		{name: "host root UID", setup: func(f *fixture) { f.spec.Linux.UIDMappings = uidMaps(0, 0, 65536) }, wantCode: 1,
			wantLine: pfx + "uid_map extent #1 (0 0 65536) maps host UID 0 (root) to container UID 0; " + fixRoot},
		{name: "host root GID inside a private range", setup: func(f *fixture) {
			f.spec.Linux.GIDMappings = uidMaps(0, 200000, 65536, 65536, 0, 1)
		}, wantCode: 1,
			wantLine: pfx + "gid_map extent #2 (65536 0 1) maps host GID 0 (root) to container GID 65536; " + fixRoot},

		// Check 3: allowed ranges.
		{name: "range below the subid range", setup: func(f *fixture) { f.spec.Linux.UIDMappings = uidMaps(0, 100000, 65536) }, wantCode: 1,
			wantLine: pfx + "uid_map extent #1 (0 100000 65536) uses host UIDs 100000-165535 outside the allowed ranges (" + allowedUIDs + "); " + fixRangesU},
		{name: "host root allowed but outside the ranges", setup: func(f *fixture) {
			f.policy += "allow_host_root = true\n"
			f.spec.Linux.UIDMappings = uidMaps(0, 0, 65536)
		}, wantCode: 1,
			wantLine: pfx + "uid_map extent #1 (0 0 65536) uses host UIDs 0-65535 outside the allowed ranges (" + allowedUIDs + "); " + fixRangesU},
		{name: "single-ID root outside the project range", setup: func(f *fixture) {
			f.spec.Linux.UIDMappings = uidMaps(1, 200000, 65535, 0, 5000, 1)
		}, wantCode: 1,
			wantLine: pfx + "uid_map extent #2 (0 5000 1) uses host UIDs 5000 outside the allowed ranges (" + allowedUIDs + "); " + fixRangesU},
		{name: "project range is for root extents only", setup: func(f *fixture) {
			f.spec.Linux.UIDMappings = uidMaps(0, 200000, 65536, 65536, 1000650000, 10)
		}, wantCode: 1,
			wantLine: pfx + "uid_map extent #2 (65536 1000650000 10) uses host UIDs 1000650000-1000650009 outside the allowed ranges (" + allowedUIDs + "); " + fixRangesU},

		// Check 3 for native Kubernetes user namespaces (pod hostUsers: false):
		// the kubelet's block, no userns-mode annotation.
		{name: "native user namespace in the kubelet's default range passes", setup: func(f *fixture) {
			f.native(1 << 31)
		}},
		{name: "native user namespace in the kubelet's subid range passes", setup: func(f *fixture) {
			f.files["etc/subuid"] = "containers:200000:268435456\nkubelet:2147483648:7208960\n"
			f.files["etc/subgid"] = "containers:200000:268435456\nkubelet:2147483648:7208960\n"
			f.native(1<<31 + 65536)
		}},
		{name: "native user namespace outside the kubelet's subid range", setup: func(f *fixture) {
			f.files["etc/subuid"] = "kubelet:2147483648:7208960\n"
			f.files["etc/subgid"] = "kubelet:2147483648:7208960\n"
			f.native(65536)
		}, wantCode: 1,
			wantLine: pfx + `uid_map extent #1 (0 65536 65536) uses host UIDs 65536-131071 outside the allowed ranges (` + allowedUIDs + `; native user namespaces (hostUsers: false) also 2147483648-2154692607 from DIR/etc/subuid entries of "kubelet"); ` + fixKubelet},
		{name: "native user namespace with the kubelet range turned off", setup: func(f *fixture) {
			f.policy += "kubelet_subid_owner = \"none\"\n"
			f.native(1 << 31)
		}, wantCode: 1,
			wantLine: pfx + "uid_map extent #1 (0 2147483648 65536) uses host UIDs 2147483648-2147549183 outside the allowed ranges (" + allowedUIDs + "); " + fixRangesU},
		{name: "userns-mode annotation imitating the kubelet's block", setup: func(f *fixture) {
			f.native(1 << 31)
			f.spec.Annotations["userns-mode.crio.io"] = "private:uidmapping=0:2147483648:65536;gidmapping=0:2147483648:65536"
		}, wantCode: 1,
			wantLine: pfx + `uid_map extent #1 (0 2147483648 65536) uses host UIDs 2147483648-2147549183 outside the allowed ranges (` + allowedUIDs + `); the kubelet's range (65536-4294967295 from kubelet_default_range (no "kubelet" entry in DIR/etc/subuid)) is only for native user namespaces, which carry no userns-mode annotation: drop the userns-mode.crio.io annotation from a hostUsers: false pod, or ` + fixRangesU},
		{name: "legacy userns-mode annotation counts too", setup: func(f *fixture) {
			f.native(1 << 31)
			f.spec.Annotations["io.kubernetes.cri-o.userns-mode"] = "auto"
		}, wantCode: 1,
			wantLine: pfx + `uid_map extent #1 (0 2147483648 65536) uses host UIDs 2147483648-2147549183 outside the allowed ranges (` + allowedUIDs + `); the kubelet's range (65536-4294967295 from kubelet_default_range (no "kubelet" entry in DIR/etc/subuid)) is only for native user namespaces, which carry no userns-mode annotation: drop the io.kubernetes.cri-o.userns-mode annotation from a hostUsers: false pod, or ` + fixRangesU},
		{name: "an empty userns-mode annotation is none, as for CRI-O", setup: func(f *fixture) {
			f.native(1 << 31)
			f.spec.Annotations["userns-mode.crio.io"] = ""
		}},
		{name: "not the kubelet's shape: UID and GID blocks differ", setup: func(f *fixture) {
			f.native(1 << 31)
			f.spec.Linux.GIDMappings = uidMaps(0, 1<<31+65536, 65536)
		}, wantCode: 1,
			wantLine: pfx + "uid_map extent #1 (0 2147483648 65536) uses host UIDs 2147483648-2147549183 outside the allowed ranges (" + allowedUIDs + "); " + fixRangesU},
		{name: "malformed subuid file fails closed even with allowed_uids", setup: func(f *fixture) {
			f.files["etc/subuid"] = "kubelet:1\n"
		}, wantCode: 1,
			wantLine: pfx + `policy: DIR/etc/subuid: line 1: "kubelet:1": want 3 colon-separated fields (owner:start:count), got 2 (a line of "kubelet"); fix the file; user-namespaced containers are refused until then`},

		// Check 4: process user.
		{name: "unmapped process user (SCC-defaulted runAsUser)", setup: func(f *fixture) { f.spec.Process.User.UID = 1000650000 }, wantCode: 1,
			wantLine: pfx + "process user UID 1000650000 is not mapped in the uid_map (0 200000 65536); set the pod-level securityContext.runAsUser to 1000650000 so that map-to-root maps it to container UID 0, or run as a UID the uid_map covers (0-65535) or widen the mapping"},
		{name: "unmapped additional GID", setup: func(f *fixture) { f.spec.Process.User.AdditionalGids = []uint32{10, 70000} }, wantCode: 1,
			wantLine: pfx + "additional GID 70000 is not mapped in the gid_map (0 200000 65536); run as a GID the gid_map covers (0-65535) or widen the mapping"},

		// Check 5: live maps.
		{name: "live map differs from the spec", setup: func(f *fixture) { f.liveUID = "0 200000 65535\n" }, wantCode: 1,
			wantLine: pfx + "live uid_map of pid 4242 (0 200000 65535) differs from config.json's uidMappings (0 200000 65536); " + fixLiveDiff},
		// The gid map is read on its own, also when the uid map is the
		// spec's (whose gid map is the same text).
		{name: "live gid map differs from the spec and the live uid map", setup: func(f *fixture) { f.liveGID = "         0     200000      65535\n" }, wantCode: 1,
			wantLine: pfx + "live gid_map of pid 4242 (0 200000 65535) differs from config.json's gidMappings (0 200000 65536); " + fixLiveDiff},
		{name: "truncated live map", setup: func(f *fixture) { f.liveGID = "         0     200000\n" }, wantCode: 1,
			wantLine: pfx + `reading the live gid_map of pid 4242: line 1: "0     200000": want 3 fields (inside outside count), got 2; ` + fixLive},
		{name: "live map not written yet", setup: func(f *fixture) { f.liveUID = "\n" }, wantCode: 1,
			wantLine: pfx + "reading the live uid_map of pid 4242: empty: the namespace has no uid_map yet; " + fixLive},
		{name: "container process gone", setup: func(f *fixture) { f.noLive = true }, wantCode: 1,
			wantLine: pfx + "identifying the user namespace of container process 4242: stat PROC/4242/ns/user: no such file or directory; the container process is gone; retry"},
		{name: "live map a FIFO with a writer that never writes (a stalled /proc)", setup: func(f *fixture) {
			f.afterWrite = func() {
				p := filepath.Join(f.procRoot, "4242", "gid_map")
				mustT(f.t, os.Remove(p))
				mustT(f.t, syscall.Mkfifo(p, 0o600))
				w, err := os.OpenFile(p, os.O_RDWR, 0)
				mustT(f.t, err)
				f.t.Cleanup(func() { w.Close() })
			}
		}, wantCode: 1,
			wantLine: pfx + "reading the live gid_map of pid 4242: PROC/4242/gid_map: not a regular file (a FIFO); " + fixLive},
		{name: "live map gone", setup: func(f *fixture) {
			f.afterWrite = func() { mustT(f.t, os.Remove(filepath.Join(f.procRoot, "4242", "uid_map"))) }
		}, wantCode: 1,
			wantLine: pfx + "reading the live uid_map of pid 4242: open PROC/4242/uid_map: no such file or directory; " + fixLive},
		{name: "joined namespace whose live map contains host root", setup: func(f *fixture) {
			f.spec.Linux.Namespaces[3].Path = "/run/crio/ns/userns/pin"
			f.spec.Linux.UIDMappings, f.spec.Linux.GIDMappings = nil, nil
			f.liveUID, f.liveGID = "0 0 4294967295\n", "0 200000 65536\n"
		}, wantCode: 1,
			wantLine: pfx + "uid_map extent #1 (0 0 4294967295) maps host UID 0 (root) to container UID 0; " + fixRoot},

		// Check 6: image accounts.
		{name: "image accounts outside the map (enforce)", setup: func(f *fixture) {
			f.policy += "image_accounts = \"enforce\"\n"
			f.spec.Linux.UIDMappings = uidMaps(0, 200000, 65534)
			f.spec.Linux.GIDMappings = uidMaps(0, 200000, 65534)
		}, wantCode: 1,
			wantLine: pfx + "image accounts outside the uid_map (0 200000 65534): nobody (UID 65534); outside the gid_map (0 200000 65534): nobody (primary GID 65534), nobody (GID 65534); " + accountsFix6},
		{name: "image accounts outside the map only warn by default", setup: func(f *fixture) {
			f.spec.Linux.UIDMappings = uidMaps(0, 200000, 1000)
			f.spec.Linux.GIDMappings = uidMaps(0, 200000, 1000)
		}, wantCode: 0, wantLine: "LOG", wantLog: `action=warned check=image-accounts`},
		{name: "symlinked /etc/passwd escaping the rootfs is read inside it", setup: func(f *fixture) {
			f.policy += "image_accounts = \"enforce\"\n"
			delete(f.files, "bundle/rootfs/etc/passwd")
			f.files["host-passwd"] = "outside:x:70000:0:::\n"
			f.files["bundle/rootfs/host-passwd"] = "inroot:x:70001:0:::\n"
			mustT(f.t, os.MkdirAll(filepath.Join(f.bundle, "rootfs/etc"), 0o755))
			mustT(f.t, os.Symlink("../../../host-passwd", filepath.Join(f.bundle, "rootfs/etc/passwd")))
		}, wantCode: 1,
			wantLine: pfx + `image accounts outside the uid_map (0 200000 65536): inroot (UID 70001); map container IDs 0-70001 (a size of at least 70002, e.g. userns-mode "auto:size=131072"), or drop the accounts from the image`},
		{name: "malformed image passwd (enforce)", setup: func(f *fixture) {
			f.policy += "image_accounts = \"enforce\"\n"
			f.files["bundle/rootfs/etc/passwd"] = "root:x:0\n"
		}, wantCode: 1,
			wantLine: pfx + `cannot read the image's /etc/passwd: line 1: "root:x:0": want 7 colon-separated fields, got 3; fix the image's /etc/passwd or set image_accounts = "off" in the policy`},
		{name: "image_accounts off ignores the image", setup: func(f *fixture) {
			f.policy += "image_accounts = \"off\"\n"
			f.files["bundle/rootfs/etc/passwd"] = "garbage\n"
		}},

		// Check 7: other pods.
		{name: "host range used by another pod", setup: func(f *fixture) {
			f.register("other", "db", "postgres", 5000, true, uidMaps(0, 265000, 65536), uidMaps(0, 400000, 65536))
		}, wantCode: 1,
			wantLine: pfx + "host UIDs 265000-265535 of uid_map extent #1 (0 200000 65536) are already used by pod other/db (container postgres, extent 0 265000 65536); " + fixCrossPod},
		{name: "dead pod's entry is pruned, not a conflict", setup: func(f *fixture) {
			f.register("other", "db", "postgres", 5000, false, uidMaps(0, 200000, 65536), uidMaps(0, 200000, 65536))
		}, after: func(t *testing.T, f *fixture, _ string) {
			entries, err := readRegistry(f.regDir)
			mustT(t, err)
			if len(entries) != 1 || entries[0].ContainerID != "ctr-app" {
				t.Fatalf("registry = %+v, want only ctr-app", entries)
			}
		}},
		{name: "pods of one project share their root ID", setup: func(f *fixture) {
			f.spec.Linux.UIDMappings = uidMaps(1, 200000, 65535, 0, 1000650000, 1)
			f.register("proj", "web-2", "app", 5001, true, uidMaps(1, 265535, 65535, 0, 1000650000, 1), uidMaps(0, 400000, 65536))
		}},
		{name: "pods of two projects do not share a root ID", setup: func(f *fixture) {
			f.spec.Linux.UIDMappings = uidMaps(1, 200000, 65535, 0, 1000650000, 1)
			f.register("other", "db", "postgres", 5001, true, uidMaps(1, 265535, 65535, 0, 1000650000, 1), uidMaps(0, 400000, 65536))
		}, wantCode: 1,
			wantLine: pfx + "host UIDs 1000650000 of uid_map extent #2 (0 1000650000 1) are already used by pod other/db (container postgres, extent 0 1000650000 1); " + fixCrossPod},
		{name: "damaged registry fails closed", setup: func(f *fixture) {
			f.files["run/registry"] = "crio-userns-registry 1\nabc\tdef\n"
		}, wantCode: 1,
			wantLine: pfx + "registry: DIR/run/registry: line 2: 2 fields, want 12; " + fixRegistry},

		// A later failure does not replace a finding that already refuses
		// the container; it is logged after it.
		{name: "registry failure after an enforce finding keeps the finding", setup: func(f *fixture) {
			f.spec.Linux.UIDMappings = uidMaps(0, 0, 65536)
			f.files["run/registry"] = "crio-userns-registry 1\nabc\tdef\n"
		}, wantCode: 1, wantLine: pfx + "uid_map extent #1 (0 0 65536) maps host UID 0 (root) to container UID 0; " + fixRoot,
			wantLog: `reason="registry: `},
		{name: "identification failure after an enforce finding keeps the finding", setup: func(f *fixture) {
			f.spec.Linux.UIDMappings = uidMaps(0, 0, 65536)
			f.afterWrite = func() { mustT(f.t, os.Remove(filepath.Join(f.procRoot, "4242", "stat"))) }
		}, wantCode: 1, wantLine: pfx + "uid_map extent #1 (0 0 65536) maps host UID 0 (root) to container UID 0; " + fixRoot,
			wantLog: `reason="identifying container process 4242: `},
		{name: "registry failure in audit mode is the verdict", setup: func(f *fixture) {
			f.policy += "mode = \"audit\"\n"
			f.spec.Linux.UIDMappings = uidMaps(0, 0, 65536)
			f.files["run/registry"] = "crio-userns-registry 1\nabc\tdef\n"
		}, wantCode: 1, wantLine: pfx + "registry: DIR/run/registry: line 2: 2 fields, want 12; " + fixRegistry},
		{name: "control characters of registry entries do not reach the line", setup: func(f *fixture) {
			f.register("other\n\x1b[2K", "db\rforged\u2028", "pg\x00\x7f", 5000, true, uidMaps(0, 265000, 65536), uidMaps(0, 400000, 65536))
		}, wantCode: 1,
			wantLine: pfx + "host UIDs 265000-265535 of uid_map extent #1 (0 200000 65536) are already used by pod other??[2K/db?forged? (container pg??, extent 0 265000 65536); " + fixCrossPod},

		// Image accounts of a missing rootfs are not "no accounts".
		{name: "missing rootfs refused with image_accounts enforce", setup: func(f *fixture) {
			f.policy += "image_accounts = \"enforce\"\n"
			f.afterWrite = func() { mustT(f.t, os.RemoveAll(filepath.Join(f.bundle, "rootfs"))) }
		}, wantCode: 1,
			wantLine: pfx + `cannot read the image's accounts: rootfs BUNDLE/rootfs: no such file or directory; the container's root filesystem must exist when the hook runs (createRuntime): check the OCI runtime, or set image_accounts = "off" in the policy`},
		{name: "missing rootfs warns with image_accounts warn", setup: func(f *fixture) {
			f.afterWrite = func() { mustT(f.t, os.RemoveAll(filepath.Join(f.bundle, "rootfs"))) }
		}, wantCode: 0, wantLine: "LOG", wantLog: `action=warned check=image-accounts`},

		// Subid files: owners by UID, and stray lines of other owners.
		{name: "subid owner written as its numeric UID", setup: func(f *fixture) {
			f.policy = strings.Replace(f.policy, "allowed_uids = [\"200000-268635455\"]\nallowed_gids = [\"200000-268635455\"]\n", "subid_owner = \"root\"\n", 1)
			f.files["etc/subuid"] = "0:200000:268435456\n"
			f.files["etc/subgid"] = "root:200000:268435456\n"
		}},
		{name: "stray subid line of another owner is skipped and said", setup: func(f *fixture) {
			f.policy = strings.Replace(f.policy, "allowed_uids = [\"200000-268635455\"]\nallowed_gids = [\"200000-268635455\"]\n", "", 1)
			f.files["etc/subuid"] = "containers:200000:268435456\nbroken-line\n"
			f.files["etc/subgid"] = "containers:200000:268435456\n"
		}, wantCode: 0, wantLine: "LOG",
			wantLog: `DIR/etc/subuid line 2: \"broken-line\": want 3 colon-separated fields (owner:start:count), got 1: skipped (not a line of \"containers\" or \"kubelet\")`},
		{name: "bad subid line of the owner refuses", setup: func(f *fixture) {
			f.policy = strings.Replace(f.policy, "allowed_uids = [\"200000-268635455\"]\nallowed_gids = [\"200000-268635455\"]\n", "", 1)
			f.files["etc/subuid"] = "containers:200000:268435456\ncontainers:300000\n"
			f.files["etc/subgid"] = "containers:200000:268435456\n"
		}, wantCode: 1,
			wantLine: pfx + `policy: DIR/etc/subuid: line 2: "containers:300000": want 3 colon-separated fields (owner:start:count), got 2 (a line of "containers"); fix the file; user-namespaced containers are refused until then`},

		// Modes.
		{name: "audit mode logs and lets a host-root container run", setup: func(f *fixture) {
			f.policy += "mode = \"audit\"\n"
			f.spec.Linux.UIDMappings = uidMaps(0, 0, 65536)
		}, wantCode: 0, wantLine: "LOG", wantLog: "action=audit check=host-root",
			after: func(t *testing.T, f *fixture, _ string) {
				data, err := os.ReadFile(f.auditLog)
				mustT(t, err)
				if !strings.Contains(string(data), `maps host UID 0 (root)`) {
					t.Fatalf("audit log = %q", data)
				}
				entries, err := readRegistry(f.regDir)
				mustT(t, err)
				if len(entries) != 1 {
					t.Fatalf("audit mode should register the container that runs: %+v", entries)
				}
			}},
		{name: "refused container is not registered", setup: func(f *fixture) {
			f.spec.Linux.UIDMappings = uidMaps(0, 0, 65536)
		}, wantCode: 1, wantLine: pfx + "uid_map extent #1 (0 0 65536) maps host UID 0 (root) to container UID 0; " + fixRoot,
			after: func(t *testing.T, f *fixture, _ string) {
				if entries, _ := readRegistry(f.regDir); len(entries) != 0 {
					t.Fatalf("refused container registered: %+v", entries)
				}
			}},
		{name: "json records follow the verdict line", setup: func(f *fixture) {
			f.args = []string{"--log-format", "json"}
			f.spec.Linux.UIDMappings = uidMaps(0, 0, 65536)
		}, wantCode: 1, wantLine: pfx + "uid_map extent #1 (0 0 65536) maps host UID 0 (root) to container UID 0; " + fixRoot,
			wantLog: `"action":"refused","check":"host-root","check_id":2,"container":"app","container_id":"ctr-app","extent":"0 0 65536"`},
		{name: "unknown flag", setup: func(f *fixture) { f.args = []string{"--bogus"} }, wantCode: 2,
			wantLine: `crio-userns-hook: -/-/-: usage: flag provided but not defined: -bogus; run "crio-userns-hook --help"`},
		{name: "bad log format", setup: func(f *fixture) { f.args = []string{"--log-format", "xml"} }, wantCode: 2,
			wantLine: `crio-userns-hook: -/-/-: usage: --log-format "xml": want "text" or "json"; run "crio-userns-hook --help"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			tc.setup(f)
			code, stderr := f.run()
			want := strings.NewReplacer("BUNDLE", f.bundle, "PROC", f.procRoot, "DIR", f.dir).Replace(tc.wantLine)
			if code != tc.wantCode {
				t.Errorf("exit status %d, want %d; stderr:\n%s", code, tc.wantCode, stderr)
			}
			switch {
			case tc.wantLine == "":
				if stderr != "" {
					t.Errorf("a pass must be silent; stderr:\n%s", stderr)
				}
			case tc.wantLine == "LOG":
				if strings.HasPrefix(stderr, "crio-userns-hook: ") {
					t.Errorf("no verdict line expected; stderr:\n%s", stderr)
				}
			default:
				if got := firstLine(stderr); got != want {
					t.Errorf("first stderr line:\n got: %s\nwant: %s", got, want)
				}
			}
			if wantLog := strings.ReplaceAll(tc.wantLog, "DIR", f.dir); wantLog != "" && !strings.Contains(stderr, wantLog) {
				t.Errorf("stderr lacks %q:\n%s", tc.wantLog, stderr)
			}
			if tc.after != nil {
				tc.after(t, f, stderr)
			}
		})
	}
}

func TestHookTimeout(t *testing.T) {
	f := newFixture(t)
	f.policy += "timeout = \"300ms\"\n"
	mustT(t, os.MkdirAll(f.regDir, 0o700))
	lock, err := os.OpenFile(filepath.Join(f.regDir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	mustT(t, err)
	defer lock.Close()
	mustT(t, unix.Flock(int(lock.Fd()), unix.LOCK_EX))
	start := time.Now()
	code, stderr := f.run()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("hook took %s, want about 300ms", d)
	}
	want := pfx + "timed out after 300ms while checking other pods' user namespaces; find what blocks the hook (registry lock, /proc, the rootfs, the audit log) or raise timeout in the policy, below the hooks.d timeout"
	if code != 1 || firstLine(stderr) != want {
		t.Fatalf("exit %d, first line:\n got: %s\nwant: %s", code, firstLine(stderr), want)
	}
}

func TestHookPanicFailsClosed(t *testing.T) {
	testStepHook = func(step string) {
		if step == "allowed-ranges" {
			panic("boom")
		}
	}
	defer func() { testStepHook = nil }()
	f := newFixture(t)
	code, stderr := f.run()
	want := pfx + "internal error while allowed-ranges: panic: boom; report a bug with the logged stack; the hook refuses containers it cannot check"
	if code != 1 || firstLine(stderr) != want {
		t.Fatalf("exit %d, first line:\n got: %s\nwant: %s", code, firstLine(stderr), want)
	}
	if !strings.Contains(stderr, "stack=") {
		t.Errorf("no stack in the record:\n%s", stderr)
	}
}

// The hook never keys on "status": runc says "creating", crun "created".
func TestHookIgnoresStatus(t *testing.T) {
	for _, status := range []rspec.ContainerState{"creating", "created", "running", ""} {
		f := newFixture(t)
		f.state.Status = status
		if code, stderr := f.run(); code != 0 || stderr != "" {
			t.Errorf("status %q: exit %d, stderr %q", status, code, stderr)
		}
	}
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"validate", "--help"}} {
		var out, errb strings.Builder
		if code := Main(args, Options{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}); code != 0 || !strings.Contains(out.String(), "crio-userns-hook validate --bundle DIR") {
			t.Errorf("%v: exit %d, stdout %q", args, code, out.String())
		}
	}
	var out strings.Builder
	if code := Main([]string{"--version"}, Options{Stdout: &out, Stderr: &out, Version: "1.2.3"}); code != 0 || out.String() != "crio-userns-hook 1.2.3\n" {
		t.Errorf("--version: %d %q", code, out.String())
	}
	_ = fmt.Sprint()
}
