package machineconfig_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	v32 "github.com/coreos/ignition/v2/config/v3_2"
	v34 "github.com/coreos/ignition/v2/config/v3_4"
	"github.com/coreos/vcontext/report"
	"github.com/vincent-petithory/dataurl"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/crio-userns/crio-userns/contrib/machineconfig"
	"github.com/crio-userns/crio-userns/internal/idmap"
	"github.com/crio-userns/crio-userns/internal/repo"
)

const (
	exampleCRIO = "https://example.com/cri-o-1.36.3-990.userns.1.el9.x86_64.rpm"
	exampleHook = "https://example.com/crio-userns-hook-0.1.0-1.el9.x86_64.rpm"
)

func contribDir() string { return filepath.Join(repo.MustRoot(), "contrib") }

// cases are the option combinations every property below must hold for.
var cases = map[string]machineconfig.Options{
	"example":          {Role: "worker", CRIORPM: exampleCRIO},
	"master cgroupv2":  {Role: "master", CRIORPM: exampleCRIO, CgroupV2: true},
	"hook only":        {Role: "infra", HookRPM: exampleHook, Name: "50-infra-userns-hook"},
	"cri-o and hook":   {Role: "worker", CRIORPM: exampleCRIO, HookRPM: exampleHook},
	"nevra flag":       {Role: "worker", CRIORPM: "https://example.com/download?id=7", CRIONEVRA: "cri-o-1.36.3-990.userns.1.el9.x86_64"},
	"own subids":       {Role: "worker", CRIORPM: exampleCRIO, SubIDs: machineconfig.SubIDRange{Start: 300000, Size: 1 << 24}},
	"no core":          {Role: "worker", CRIORPM: exampleCRIO, SubIDs: machineconfig.SubIDRange{Start: 100000, Size: 1 << 24}, NoCoreSubID: true},
	"percent in URL":   {Role: "worker", CRIORPM: "https://example.com/rpms%20el9/cri-o-1.36.3-990.userns.1.el9.x86_64.rpm?sig=a&exp=1"},
	"epoch in nevra":   {Role: "worker", CRIORPM: exampleCRIO, CRIONEVRA: "cri-o-0:1.36.3-990.userns.1.el9.x86_64"},
	"custom pool name": {Role: "userns.pool-1", CRIORPM: exampleCRIO},
}

func generate(t *testing.T, o machineconfig.Options) []byte {
	t.Helper()
	out, err := machineconfig.Generate(o, os.DirFS(contribDir()))
	if err != nil {
		t.Fatalf("Generate(%+v): %v", o, err)
	}
	return out
}

// mc is the MachineConfig as the tests read it back, independently of the
// generator's types.
type mc struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		KernelArguments []string        `json:"kernelArguments"`
		Config          json.RawMessage `json:"config"`
	} `json:"spec"`
}

func decode(t *testing.T, out []byte) mc {
	t.Helper()
	var m mc
	if err := yaml.UnmarshalStrict(out, &m); err != nil {
		t.Fatalf("output is not the expected MachineConfig YAML: %v\n%s", err, out)
	}
	return m
}

// TestIgnitionConfigParses: spec.config parses with Ignition's own parser as
// exactly the 3.2.0 spec, and translated to 3.4 (what newer Machine Config
// Operators handle), without a single error, warning or notice.
func TestIgnitionConfigParses(t *testing.T) {
	for name, o := range cases {
		t.Run(name, func(t *testing.T) {
			m := decode(t, generate(t, o))
			cfg, rpt, err := v32.Parse(m.Spec.Config)
			checkReport(t, "v3_2.Parse", rpt, err)
			if cfg.Ignition.Version != machineconfig.IgnitionVersion {
				t.Errorf("ignition.version %q", cfg.Ignition.Version)
			}
			if len(cfg.Systemd.Units) != 1 || cfg.Systemd.Units[0].Name != machineconfig.UnitName ||
				cfg.Systemd.Units[0].Enabled == nil || !*cfg.Systemd.Units[0].Enabled {
				t.Errorf("units: %+v", cfg.Systemd.Units)
			}
			for _, f := range cfg.Storage.Files {
				if f.Mode == nil || *f.Mode != 0o644 || f.Overwrite == nil || !*f.Overwrite {
					t.Errorf("%s: mode %v overwrite %v, want 0644 and true", f.Path, f.Mode, f.Overwrite)
				}
				if !strings.HasPrefix(f.Path, "/etc/") {
					t.Errorf("%s: the Machine Config Operator only writes /etc and /var", f.Path)
				}
			}
			_, rpt, err = v34.ParseCompatibleVersion(m.Spec.Config)
			checkReport(t, "v3_4.ParseCompatibleVersion", rpt, err)
		})
	}
}

func checkReport(t *testing.T, what string, rpt report.Report, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v\n%s", what, err, rpt)
	}
	if len(rpt.Entries) > 0 {
		t.Errorf("%s reports:\n%s", what, rpt)
	}
}

// TestFilesAreShipped: every data URL decodes to the exact bytes of the file
// shipped in contrib/ (read now, so a concurrent edit of contrib/ is seen),
// and /etc/subuid and /etc/subgid hold the requested ranges.
func TestFilesAreShipped(t *testing.T) {
	for name, o := range cases {
		t.Run(name, func(t *testing.T) {
			m := decode(t, generate(t, o))
			cfg, _, err := v32.Parse(m.Spec.Config)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]byte{}
			var paths []string
			for _, f := range cfg.Storage.Files {
				if f.Contents.Source == nil {
					t.Fatalf("%s: no contents.source", f.Path)
				}
				u, err := dataurl.DecodeString(*f.Contents.Source)
				if err != nil {
					t.Fatalf("%s: %v", f.Path, err)
				}
				if u.ContentType() != "text/plain" || u.Params["charset"] != "utf-8" {
					t.Errorf("%s: media type %s %v", f.Path, u.ContentType(), u.Params)
				}
				got[f.Path] = u.Data
				paths = append(paths, f.Path)
			}
			want := []string{"/etc/subuid", "/etc/subgid"}
			for _, s := range machineconfig.Shipped {
				want = append(want, s.Path)
				shipped, err := os.ReadFile(filepath.Join(contribDir(), s.Source))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got[s.Path], shipped) {
					t.Errorf("%s differs from contrib/%s:\n%s", s.Path, s.Source, got[s.Path])
				}
			}
			if !reflect.DeepEqual(paths, want) {
				t.Errorf("files %v, want %v", paths, want)
			}

			r := o.SubIDs
			if r == (machineconfig.SubIDRange{}) {
				r = machineconfig.DefaultSubIDRange
			}
			for _, p := range []string{"/etc/subuid", "/etc/subgid"} {
				entries, err := idmap.ParseSubID(bytes.NewReader(got[p]))
				if err != nil {
					t.Fatalf("%s: %v", p, err)
				}
				if rs := idmap.SubIDRanges(entries, machineconfig.SubIDOwner, ""); !reflect.DeepEqual(rs, []idmap.Range{r.Range()}) {
					t.Errorf("%s: containers ranges %v, want %v", p, rs, r.Range())
				}
				hasCore := strings.HasPrefix(string(got[p]), "core:100000:65536\n")
				if hasCore == o.NoCoreSubID {
					t.Errorf("%s = %q, core line wanted: %v", p, got[p], !o.NoCoreSubID)
				}
			}
		})
	}
}

// TestSubIDMatchesFieldReport: the example's subid files are field report
// 000's, byte for byte.
func TestSubIDMatchesFieldReport(t *testing.T) {
	const report000 = "data:text/plain;charset=utf-8;base64,Y29yZToxMDAwMDA6NjU1MzYKY29udGFpbmVyczoyMDAwMDA6MjY4NDM1NDU2Cg=="
	out := string(generate(t, cases["example"]))
	if n := strings.Count(out, "source: "+report000+"\n"); n != 2 {
		t.Errorf("field report 000's subuid/subgid data URL appears %d times, want 2", n)
	}
}

// TestYAMLRoundTrip: the output reads back into a generic object and writes
// out to the same bytes, and Kubernetes' unstructured decoding sees the
// MachineConfig, its pool label and (with --cgroupv2) the kernel arguments.
func TestYAMLRoundTrip(t *testing.T) {
	for name, o := range cases {
		t.Run(name, func(t *testing.T) {
			out := generate(t, o)
			var header, body []string
			for _, l := range strings.SplitAfter(string(out), "\n") {
				if strings.HasPrefix(l, "#") && len(body) == 0 {
					header = append(header, l)
				} else {
					body = append(body, l)
				}
			}
			if len(header) == 0 {
				t.Error("no header comment")
			}
			var v map[string]any
			if err := yaml.Unmarshal(out, &v); err != nil {
				t.Fatal(err)
			}
			again, err := yaml.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if string(again) != strings.Join(body, "") {
				t.Errorf("YAML does not round-trip:\n%s\n---\n%s", strings.Join(body, ""), again)
			}

			js, err := yaml.YAMLToJSON(out)
			if err != nil {
				t.Fatal(err)
			}
			var u unstructured.Unstructured
			if err := u.UnmarshalJSON(js); err != nil {
				t.Fatal(err)
			}
			name := o.Name
			if name == "" {
				name = machineconfig.DefaultName(o.Role)
			}
			if u.GetAPIVersion() != "machineconfiguration.openshift.io/v1" || u.GetKind() != "MachineConfig" || u.GetName() != name {
				t.Errorf("object %s %s %s", u.GetAPIVersion(), u.GetKind(), u.GetName())
			}
			if !reflect.DeepEqual(u.GetLabels(), map[string]string{"machineconfiguration.openshift.io/role": o.Role}) {
				t.Errorf("labels %v", u.GetLabels())
			}
			kargs, _, _ := unstructured.NestedStringSlice(u.Object, "spec", "kernelArguments")
			if o.CgroupV2 != (len(kargs) > 0) {
				t.Errorf("kernelArguments %q with CgroupV2=%v", kargs, o.CgroupV2)
			}
		})
	}
}

// TestCgroupV2KernelArguments are field report 000's, in its order.
func TestCgroupV2KernelArguments(t *testing.T) {
	m := decode(t, generate(t, cases["master cgroupv2"]))
	want := []string{"systemd.unified_cgroup_hierarchy=1", `cgroup_no_v1="all"`, "psi=1"}
	if !reflect.DeepEqual(m.Spec.KernelArguments, want) {
		t.Errorf("kernelArguments %q, want %q", m.Spec.KernelArguments, want)
	}
}

// TestUnit: the unit's command for each RPM combination, with systemd's %
// escaped and shell metacharacters quoted.
func TestUnit(t *testing.T) {
	for _, tc := range []struct {
		name, exec string
	}{
		{"example", `ExecStart=/bin/sh -c 'rpm -q cri-o-1.36.3-990.userns.1.el9.x86_64 || rpm-ostree override replace --reboot https://example.com/cri-o-1.36.3-990.userns.1.el9.x86_64.rpm'`},
		{"hook only", `ExecStart=/bin/sh -c 'rpm -q crio-userns-hook-0.1.0-1.el9.x86_64 || rpm-ostree install --reboot https://example.com/crio-userns-hook-0.1.0-1.el9.x86_64.rpm'`},
		{"cri-o and hook", `ExecStart=/bin/sh -c 'rpm -q cri-o-1.36.3-990.userns.1.el9.x86_64 crio-userns-hook-0.1.0-1.el9.x86_64 && exit 0; ` +
			`rpm -q crio-userns-hook-0.1.0-1.el9.x86_64 || rpm-ostree install --idempotent https://example.com/crio-userns-hook-0.1.0-1.el9.x86_64.rpm || exit 1; ` +
			`rpm -q cri-o-1.36.3-990.userns.1.el9.x86_64 || rpm-ostree override replace https://example.com/cri-o-1.36.3-990.userns.1.el9.x86_64.rpm || exit 1; ` +
			`exec systemctl reboot'`},
		{"nevra flag", `ExecStart=/bin/sh -c 'rpm -q cri-o-1.36.3-990.userns.1.el9.x86_64 || rpm-ostree override replace --reboot "https://example.com/download?id=7"'`},
		{"epoch in nevra", `ExecStart=/bin/sh -c 'rpm -q cri-o-0:1.36.3-990.userns.1.el9.x86_64 || rpm-ostree override replace --reboot https://example.com/cri-o-1.36.3-990.userns.1.el9.x86_64.rpm'`},
		{"percent in URL", `ExecStart=/bin/sh -c 'rpm -q cri-o-1.36.3-990.userns.1.el9.x86_64 || rpm-ostree override replace --reboot "https://example.com/rpms%%20el9/cri-o-1.36.3-990.userns.1.el9.x86_64.rpm?sig=a&exp=1"'`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := decode(t, generate(t, cases[tc.name]))
			cfg, _, err := v32.Parse(m.Spec.Config)
			if err != nil {
				t.Fatal(err)
			}
			contents := *cfg.Systemd.Units[0].Contents
			if !strings.Contains(contents, "\n"+tc.exec+"\n") {
				t.Errorf("unit:\n%s\nwant the line\n%s", contents, tc.exec)
			}
			for _, line := range []string{
				"Wants=network-online.target", "After=network-online.target rpm-ostreed.service",
				"Restart=on-failure", "WantedBy=multi-user.target",
			} {
				if !strings.Contains(contents, "\n"+line+"\n") {
					t.Errorf("unit lacks %q:\n%s", line, contents)
				}
			}
		})
	}
}

func TestGenerateErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    machineconfig.Options
		want string
	}{
		{"nothing", machineconfig.Options{Role: "worker"}, "nothing to install"},
		{"bad role", machineconfig.Options{Role: "Worker", CRIORPM: exampleCRIO}, `--role "Worker"`},
		{"bad name", machineconfig.Options{Role: "worker", Name: "99_worker", CRIORPM: exampleCRIO}, `--name "99_worker"`},
		{"ftp", machineconfig.Options{Role: "worker", CRIORPM: "ftp://example.com/cri-o-1.36.3-990.el9.x86_64.rpm"}, "http:// or https://"},
		{"quote", machineconfig.Options{Role: "worker", CRIORPM: "https://example.com/x'y/cri-o-1.36.3-990.el9.x86_64.rpm"}, `contains '\''`},
		{"dollar", machineconfig.Options{Role: "worker", CRIORPM: "https://example.com/$HOME/cri-o-1.36.3-990.el9.x86_64.rpm"}, `contains '$'`},
		{"space", machineconfig.Options{Role: "worker", CRIORPM: "https://example.com/a b/cri-o-1.36.3-990.el9.x86_64.rpm"}, `contains ' '`},
		{"credentials", machineconfig.Options{Role: "worker", CRIORPM: "https://u:p@example.com/cri-o-1.36.3-990.el9.x86_64.rpm"}, "credentials"},
		{"no nevra", machineconfig.Options{Role: "worker", CRIORPM: "https://example.com/download?id=7"}, "pass --cri-o-nevra cri-o-VERSION-RELEASE.ARCH"},
		{"src rpm", machineconfig.Options{Role: "worker", CRIORPM: "https://example.com/cri-o-1.36.3-990.el9.src.rpm"}, "source RPM"},
		{"other package", machineconfig.Options{Role: "worker", CRIORPM: "https://example.com/runc-1.0.3-992.rhaos4.10.el8.x86_64.rpm"}, `named "runc", want "cri-o"`},
		{"nevra mismatch", machineconfig.Options{Role: "worker", CRIORPM: exampleCRIO, CRIONEVRA: "cri-o-1.36.3-991.userns.1.el9.x86_64"}, "does not match the RPM file name"},
		{"bad nevra", machineconfig.Options{Role: "worker", CRIORPM: "https://example.com/dl", CRIONEVRA: "cri-o-1.36.3"}, "--cri-o-nevra"},
		{"nevra alone", machineconfig.Options{Role: "worker", HookRPM: exampleHook, CRIONEVRA: "cri-o-1.36.3-990.el9.x86_64"}, "--cri-o-nevra needs --cri-o-rpm"},
		{"hook name", machineconfig.Options{Role: "worker", HookRPM: exampleCRIO}, `want "crio-userns-hook"`},
		{"host root", machineconfig.Options{Role: "worker", CRIORPM: exampleCRIO, SubIDs: machineconfig.SubIDRange{Start: 0, Size: 1 << 20}, NoCoreSubID: true}, "host root"},
		{"small", machineconfig.Options{Role: "worker", CRIORPM: exampleCRIO, SubIDs: machineconfig.SubIDRange{Start: 200000, Size: 1000}}, "less than one pod"},
		{"overflow", machineconfig.Options{Role: "worker", CRIORPM: exampleCRIO, SubIDs: machineconfig.SubIDRange{Start: 4294000000, Size: 1 << 20}}, "last valid ID"},
		{"core", machineconfig.Options{Role: "worker", CRIORPM: exampleCRIO, SubIDs: machineconfig.SubIDRange{Start: 100000, Size: 1 << 20}}, "--core-subid=false"},
		{"project range", machineconfig.Options{Role: "worker", CRIORPM: exampleCRIO, SubIDs: machineconfig.SubIDRange{Start: 900000000, Size: 1 << 28}}, "project_root_range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := machineconfig.Generate(tc.o, os.DirFS(contribDir()))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestBrokenContrib: a missing or unparsable shipped file stops generation.
func TestBrokenContrib(t *testing.T) {
	dir := t.TempDir()
	for _, s := range machineconfig.Shipped {
		data, err := os.ReadFile(filepath.Join(contribDir(), s.Source))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(s.Source)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, s.Source), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	o := cases["example"]
	if _, err := machineconfig.Generate(o, os.DirFS(dir)); err != nil {
		t.Fatalf("copy of contrib/: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hooks.d/crio-userns-hook.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := machineconfig.Generate(o, os.DirFS(dir)); err == nil || !strings.Contains(err.Error(), "hooks.d/crio-userns-hook.json is not valid JSON") {
		t.Errorf("broken JSON: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hooks.d/crio-userns-hook.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "crio.conf.d/99-crio-userns.conf"), []byte("[crio.runtime\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := machineconfig.Generate(o, os.DirFS(dir)); err == nil || !strings.Contains(err.Error(), "contrib/crio.conf.d/99-crio-userns.conf") {
		t.Errorf("broken TOML: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "crio.conf.d/99-crio-userns.conf"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "crio-userns/policy.toml")); err != nil {
		t.Fatal(err)
	}
	if _, err := machineconfig.Generate(o, os.DirFS(dir)); err == nil || !strings.Contains(err.Error(), "crio-userns/policy.toml") {
		t.Errorf("missing policy: %v", err)
	}
}

func TestWarnings(t *testing.T) {
	if w := cases["example"].Warnings(); len(w) != 0 {
		t.Errorf("example: %q", w)
	}
	if w := cases["cri-o and hook"].Warnings(); len(w) != 1 || !strings.Contains(w[0], "/usr/bin/crio-userns-hook") {
		t.Errorf("cri-o and hook: %q", w)
	}
}
