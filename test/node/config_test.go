package node

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

func TestWriteConfigKeepsEverythingPrivate(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state with space")
	s := Settings{Layout: Layout{State: state}, Pinns: "/p/pinns", Runtime: "runc", RuntimeBin: "/usr/sbin/runc",
		Conmon: "/usr/bin/conmon", PauseImage: DefaultPauseImage, LogLevel: "info", DropInfra: true}
	extra := map[string][]byte{"99-crio-userns.conf": []byte("[crio.runtime.workloads.x]\nactivation_annotation = \"a\"\n")}
	if err := WriteConfig(s, extra); err != nil {
		t.Fatal(err)
	}

	var cfg struct {
		Crio struct {
			Root, Runroot string
			API           struct{ Listen string } `toml:"api"`
			Runtime       struct {
				DefaultRuntime string   `toml:"default_runtime"`
				CgroupManager  string   `toml:"cgroup_manager"`
				HooksDir       []string `toml:"hooks_dir"`
				NamespacesDir  string   `toml:"namespaces_dir"`
				DropInfraCtr   bool     `toml:"drop_infra_ctr"`
				Runtimes       map[string]struct {
					RuntimePath string `toml:"runtime_path"`
					RuntimeRoot string `toml:"runtime_root"`
				}
			}
			Network struct {
				NetworkDir string `toml:"network_dir"`
			}
		}
	}
	md, err := toml.DecodeFile(filepath.Join(s.DropInDir(), "10-node.conf"), &cfg)
	if err != nil {
		t.Fatalf("node drop-in is not valid TOML: %v", err)
	}
	c := cfg.Crio
	for name, p := range map[string]string{
		"root": c.Root, "runroot": c.Runroot, "listen": c.API.Listen, "namespaces_dir": c.Runtime.NamespacesDir,
		"hooks_dir": c.Runtime.HooksDir[0], "network_dir": c.Network.NetworkDir, "runtime_root": c.Runtime.Runtimes["runc"].RuntimeRoot,
	} {
		if !strings.HasPrefix(p, state+"/") {
			t.Errorf("%s = %q is not under the state dir %q", name, p, state)
		}
	}
	if c.Runtime.CgroupManager != "cgroupfs" || c.Runtime.DefaultRuntime != "runc" || !c.Runtime.DropInfraCtr {
		t.Errorf("runtime settings: %+v", c.Runtime)
	}
	if len(md.Undecoded()) == 0 {
		t.Error("decoded every key: the test's struct is too wide to notice a missing one")
	}

	for _, f := range []string{"99-crio-userns.conf", "10-node.conf"} {
		if _, err := os.Stat(filepath.Join(s.DropInDir(), f)); err != nil {
			t.Error(err)
		}
	}
	data, _ := os.ReadFile(filepath.Join(s.CNIDir(), "10-loopback.conflist"))
	if !strings.Contains(string(data), `"type": "loopback"`) || strings.Contains(string(data), "bridge") {
		t.Errorf("CNI config is not loopback-only: %s", data)
	}
	if other := loopbackCNI(Layout{State: s.State + "-other"}); cniNetworkName(t, other) == cniNetworkName(t, data) {
		t.Errorf("two nodes share the CNI network name %q: each garbage-collects the other's cached results", cniNetworkName(t, data))
	}

	// A second write drops drop-ins the new call does not name.
	if err := WriteConfig(s, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.DropInDir(), "99-crio-userns.conf")); !os.IsNotExist(err) {
		t.Errorf("stale drop-in survived a rewrite: %v", err)
	}
}

func TestWriteConfigRejectsOddDropInNames(t *testing.T) {
	s := Settings{Layout: Layout{State: t.TempDir()}, Runtime: "runc"}
	for _, name := range []string{"../escape.conf", "x.toml", "sub/x.conf"} {
		if err := WriteConfig(s, map[string][]byte{name: nil}); err == nil {
			t.Errorf("drop-in name %q accepted", name)
		}
	}
}

func TestEnsureSubIDs(t *testing.T) {
	for _, tc := range []struct {
		name, before, after, wantErr string
	}{
		{"missing file", "", SubIDEntry + "\n", ""},
		{"other users kept", "core:100000:65536\n", "core:100000:65536\n" + SubIDEntry + "\n", ""},
		{"no trailing newline", "core:100000:65536", "core:100000:65536\n" + SubIDEntry + "\n", ""},
		{"already there", "core:1:2\n" + SubIDEntry + "\n", "core:1:2\n" + SubIDEntry + "\n", ""},
		{"conflicting entry", "containers:100000:65536\n", "containers:100000:65536\n", `has "containers:100000:65536"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "subuid")
			if tc.before != "" {
				os.WriteFile(f, []byte(tc.before), 0o644)
			}
			err := EnsureSubIDs(f)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(f)
			if string(got) != tc.after {
				t.Errorf("file = %q, want %q", got, tc.after)
			}
		})
	}
}

// cniNetworkName is the network name of a conflist; libcni requires one
// that starts with a letter or digit and holds only [a-zA-Z0-9_.-].
func cniNetworkName(t *testing.T, conflist []byte) string {
	t.Helper()
	var c struct{ Name string }
	if err := json.Unmarshal(conflist, &c); err != nil {
		t.Fatalf("CNI config: %v", err)
	}
	if !regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$`).MatchString(c.Name) {
		t.Fatalf("CNI network name %q is not one libcni accepts", c.Name)
	}
	return c.Name
}

// The guest node's settings: systemd cgroup manager, crun by default, runc
// as a second handler, each with its own runtime root.
func TestWriteConfigGuestRuntimes(t *testing.T) {
	state := t.TempDir()
	s := Settings{Layout: Layout{State: state}, Pinns: "/p", Runtime: "crun", RuntimeBin: "/usr/bin/crun",
		OtherRuntimes: []RuntimeHandler{{Name: "runc", Path: "/usr/sbin/runc"}}, CgroupManager: "systemd",
		Conmon: "/usr/bin/conmon", PauseImage: DefaultPauseImage, LogLevel: "info", DropInfra: true}
	if err := WriteConfig(s, nil); err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Crio struct {
			Runtime struct {
				DefaultRuntime string `toml:"default_runtime"`
				CgroupManager  string `toml:"cgroup_manager"`
				Runtimes       map[string]struct {
					RuntimePath string `toml:"runtime_path"`
					RuntimeRoot string `toml:"runtime_root"`
				}
			}
		}
	}
	if _, err := toml.DecodeFile(filepath.Join(s.DropInDir(), "10-node.conf"), &cfg); err != nil {
		t.Fatal(err)
	}
	r := cfg.Crio.Runtime
	if r.DefaultRuntime != "crun" || r.CgroupManager != "systemd" || len(r.Runtimes) != 2 ||
		r.Runtimes["crun"].RuntimePath != "/usr/bin/crun" || r.Runtimes["runc"].RuntimeRoot != filepath.Join(state, "run", "runc") {
		t.Errorf("runtime settings: %+v", r)
	}
}

func TestServiceUnit(t *testing.T) {
	l := Layout{State: "/var/lib/x"}
	unit, err := l.ServiceUnit()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Type=notify",
		`ExecStart="/var/lib/x/bin/crio" --config "/var/lib/x/etc/crio.conf" --config-dir "/var/lib/x/etc/crio.conf.d"`,
		"StandardOutput=append:/var/lib/x/logs/crio.log",
		"Restart=no",
	} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("unit lacks %q:\n%s", want, unit)
		}
	}
}
