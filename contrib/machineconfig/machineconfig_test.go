package machineconfig_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	v32 "github.com/coreos/ignition/v2/config/v3_2"
	v34 "github.com/coreos/ignition/v2/config/v3_4"
	"github.com/coreos/vcontext/report"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	mcfgv1 "github.com/openshift/api/machineconfiguration/v1"
	"github.com/vincent-petithory/dataurl"
	"sigs.k8s.io/yaml"

	"github.com/crio-userns/crio-userns/contrib/machineconfig"
	"github.com/crio-userns/crio-userns/internal/idmap"
	"github.com/crio-userns/crio-userns/internal/manifest"
	"github.com/crio-userns/crio-userns/internal/repo"
)

var (
	sumA     = strings.Repeat("a1", 32)
	sumB     = strings.Repeat("b2", 32)
	rpmImage = "quay.io/example/crio-userns-rpms@sha256:" + strings.Repeat("c3", 32)
	nodeImg  = "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:" + strings.Repeat("d4", 32)
)

const (
	exampleCRIO = "https://example.com/cri-o-1.36.3-990.userns.1.el9.x86_64.rpm"
	exampleHook = "https://example.com/crio-userns-hook-0.1.0-1.el9.x86_64.rpm"
	crioFile    = "cri-o-1.36.3-990.userns.1.el9.x86_64.rpm"
	hookFile    = "crio-userns-hook-0.1.0-1.el9.x86_64.rpm"
)

func contribDir() string { return filepath.Join(repo.MustRoot(), "contrib") }

func onCluster(o machineconfig.Options) machineconfig.Options {
	o.Image.RPMImage, o.Image.PushSecret = rpmImage, "builder-dockercfg-x7k2p"
	return o
}

// overrideCases and imageCases are the option combinations every property
// below must hold for.
var overrideCases = map[string]machineconfig.Options{
	"example":          {Mode: "override", Role: "worker", CRIORPM: exampleCRIO, CRIOSHA256: sumA},
	"master cgroupv2":  {Mode: "override", Role: "master", AllowControlPlane: true, CRIORPM: exampleCRIO, CRIOSHA256: sumA, CgroupV2: true},
	"hook only":        {Mode: "override", Role: "infra", HookRPM: exampleHook, HookSHA256: sumB, Name: "50-infra-userns-hook"},
	"cri-o and hook":   {Mode: "override", Role: "worker", CRIORPM: exampleCRIO, CRIOSHA256: sumA, HookRPM: exampleHook, HookSHA256: sumB},
	"own subids":       {Mode: "override", Role: "worker", CRIORPM: exampleCRIO, CRIOSHA256: sumA, SubIDs: machineconfig.SubIDRange{Owner: machineconfig.SubIDOwner, Start: 300000, Count: 1 << 24}},
	"no core":          {Mode: "override", Role: "worker", CRIORPM: exampleCRIO, CRIOSHA256: strings.ToUpper(sumA), SubIDs: machineconfig.SubIDRange{Owner: machineconfig.SubIDOwner, Start: 100000, Count: 1 << 24}, NoCoreSubID: true},
	"odd URL":          {Mode: "override", Role: "worker", CRIORPM: "http://example.com/dl%20x?id=7&sig=a", CRIOSHA256: sumA},
	"custom pool name": {Mode: "override", Role: "userns.pool-1", CRIORPM: exampleCRIO, CRIOSHA256: sumA},
}

var imageCases = map[string]machineconfig.Options{
	"example":        onCluster(machineconfig.Options{Role: "worker", CRIORPM: crioFile, CRIOSHA256: sumA}),
	"cri-o and hook": onCluster(machineconfig.Options{Role: "worker", CRIORPM: crioFile, CRIOSHA256: sumA, HookRPM: hookFile, HookSHA256: sumB}),
	"hook only":      onCluster(machineconfig.Options{Role: "infra", HookRPM: hookFile, HookSHA256: sumB}),
	"master":         onCluster(machineconfig.Options{Role: "master", AllowControlPlane: true, CRIORPM: crioFile, CRIOSHA256: sumA}),
	"pull secret": func() machineconfig.Options {
		o := onCluster(machineconfig.Options{Role: "worker", CRIORPM: crioFile, CRIOSHA256: sumA, NoCoreSubID: true, SubIDs: machineconfig.SubIDRange{Owner: machineconfig.SubIDOwner, Start: 100000, Count: 1 << 20}})
		o.Image.PullSecret, o.Image.PushSpec = "global-pull-secret-copy", "quay.io/example/os-images:worker"
		return o
	}(),
	"off-cluster": {Role: "worker", CRIORPM: crioFile, CRIOSHA256: sumA, Image: machineconfig.ImageOptions{OffCluster: true, BaseImage: nodeImg}},
}

func generate(t *testing.T, o machineconfig.Options) map[string][]byte {
	t.Helper()
	out, err := machineconfig.Generate(o, os.DirFS(contribDir()))
	if err != nil {
		t.Fatalf("Generate(%+v): %v", o, err)
	}
	files := map[string][]byte{}
	for _, f := range out {
		files[f.Name] = f.Data
	}
	return files
}

func overrideMC(t *testing.T, o machineconfig.Options) []byte {
	t.Helper()
	files := generate(t, o)
	if len(files) != 1 {
		t.Fatalf("override mode wrote %d files", len(files))
	}
	for _, data := range files {
		return data
	}
	return nil
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

// ignition decodes the MachineConfig and parses spec.config with Ignition's
// own parser as exactly the 3.2.0 spec, and translated to 3.4, without a
// single error, warning or notice; it returns the config and its files.
func ignition(t *testing.T, out []byte) (mc, map[string][]byte, map[string]int) {
	t.Helper()
	var m mc
	if err := yaml.UnmarshalStrict(out, &m); err != nil {
		t.Fatalf("output is not the expected MachineConfig YAML: %v\n%s", err, out)
	}
	cfg, rpt, err := v32.Parse(m.Spec.Config)
	checkReport(t, "v3_2.Parse", rpt, err)
	_, rpt, err = v34.ParseCompatibleVersion(m.Spec.Config)
	checkReport(t, "v3_4.ParseCompatibleVersion", rpt, err)
	files, modes := map[string][]byte{}, map[string]int{}
	for _, f := range cfg.Storage.Files {
		u, err := dataurl.DecodeString(*f.Contents.Source)
		if err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		if f.Overwrite == nil || !*f.Overwrite {
			t.Errorf("%s: overwrite not set", f.Path)
		}
		files[f.Path], modes[f.Path] = u.Data, *f.Mode
	}
	if len(cfg.Systemd.Units) != 1 || cfg.Systemd.Units[0].Name != machineconfig.UnitName || !*cfg.Systemd.Units[0].Enabled {
		t.Fatalf("units: %+v", cfg.Systemd.Units)
	}
	files["unit"] = []byte(*cfg.Systemd.Units[0].Contents)
	return m, files, modes
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

// expected is what the packages must put in place: the manifest's files of
// the packages the options install.
func expected(t *testing.T, o machineconfig.Options) []string {
	t.Helper()
	m, err := manifest.Load(repo.MustRoot())
	if err != nil {
		t.Fatal(err)
	}
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

func TestOverrideMachineConfig(t *testing.T) {
	for name, o := range overrideCases {
		t.Run(name, func(t *testing.T) {
			m, files, modes := ignition(t, overrideMC(t, o))
			if m.APIVersion != "machineconfiguration.openshift.io/v1" || m.Kind != "MachineConfig" {
				t.Errorf("object %s %s", m.APIVersion, m.Kind)
			}
			wantName := o.Name
			if wantName == "" {
				wantName = machineconfig.DefaultName(o.Role)
			}
			if m.Metadata.Name != wantName || !reflect.DeepEqual(m.Metadata.Labels, map[string]string{"machineconfiguration.openshift.io/role": o.Role}) {
				t.Errorf("metadata %+v", m.Metadata)
			}
			if o.CgroupV2 != reflect.DeepEqual(m.Spec.KernelArguments, []string{"systemd.unified_cgroup_hierarchy=1", `cgroup_no_v1="all"`, "psi=1"}) {
				t.Errorf("kernelArguments %q", m.Spec.KernelArguments)
			}
			wantModes := map[string]int{machineconfig.ScriptPath: 0o755, machineconfig.EnvPath: 0o644, "/etc/subuid": 0o644, "/etc/subgid": 0o644}
			if !reflect.DeepEqual(modes, wantModes) {
				t.Errorf("files and modes %v, want %v", modes, wantModes)
			}
			if !bytes.Equal(files[machineconfig.ScriptPath], machineconfig.OverrideScript) {
				t.Error("the script differs from override.sh")
			}
			env := parseEnv(t, files[machineconfig.EnvPath])
			want := map[string]string{"EXPECT_PATHS": strings.Join(expected(t, o), " ")}
			if o.CRIORPM != "" {
				want["CRIO_RPM_URL"], want["CRIO_RPM_SHA256"] = o.CRIORPM, strings.ToLower(o.CRIOSHA256)
			}
			if o.HookRPM != "" {
				want["HOOK_RPM_URL"], want["HOOK_RPM_SHA256"] = o.HookRPM, o.HookSHA256
			}
			if !reflect.DeepEqual(env, want) {
				t.Errorf("override.env %v, want %v", env, want)
			}
			checkSubID(t, o, files["/etc/subuid"], files["/etc/subgid"])
			unit := string(files["unit"])
			for _, line := range []string{
				"Type=oneshot", "RemainAfterExit=yes",
				"Before=kubelet.service crio.service", "After=network-online.target rpm-ostreed.service",
				"EnvironmentFile=" + machineconfig.EnvPath, "EnvironmentFile=-/etc/mco/proxy.env",
				"ExecStart=" + machineconfig.ScriptPath, "RequiredBy=crio.service kubelet.service",
				"ConditionPathExists=/run/ostree-booted",
			} {
				if !strings.Contains(unit, "\n"+line+"\n") {
					t.Errorf("unit lacks %q:\n%s", line, unit)
				}
			}
			if strings.Contains(unit, "Restart=") {
				t.Errorf("unit restarts itself without bound:\n%s", unit)
			}
		})
	}
}

// parseEnv reads an EnvironmentFile as systemd does for these lines.
func parseEnv(t *testing.T, data []byte) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, l := range strings.Split(string(data), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf("environment line %q", l)
		}
		env[k] = strings.Trim(v, `"`)
	}
	return env
}

func checkSubID(t *testing.T, o machineconfig.Options, subuid, subgid []byte) {
	t.Helper()
	if !bytes.Equal(subuid, subgid) {
		t.Errorf("subuid %q, subgid %q", subuid, subgid)
	}
	r := o.SubIDs
	if r == (machineconfig.SubIDRange{}) {
		r = machineconfig.DefaultSubIDRange
	}
	entries, err := idmap.ParseSubID(bytes.NewReader(subuid))
	if err != nil {
		t.Fatal(err)
	}
	if rs := idmap.SubIDRanges(entries, machineconfig.SubIDOwner, ""); !reflect.DeepEqual(rs, []idmap.Range{r.Range()}) {
		t.Errorf("containers ranges %v, want %v", rs, r.Range())
	}
	if hasCore := strings.HasPrefix(string(subuid), "core:100000:65536\n"); hasCore == o.NoCoreSubID {
		t.Errorf("subuid %q, core line wanted: %v", subuid, !o.NoCoreSubID)
	}
}

// TestSubIDMatchesFieldReport: the example's subid files are field report
// 000's, byte for byte.
func TestSubIDMatchesFieldReport(t *testing.T) {
	_, files, _ := ignition(t, overrideMC(t, overrideCases["example"]))
	if got := string(files["/etc/subuid"]); got != "core:100000:65536\ncontainers:200000:268435456\n" {
		t.Errorf("subuid %q", got)
	}
}

// TestOverrideUnitVerifies: `systemd-analyze verify` accepts the unit in a
// root holding what the MachineConfig writes (the script, its settings) and
// this machine's systemd units, and rejects it when the script is missing.
func TestOverrideUnitVerifies(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Fatal("systemd-analyze not found: install Debian's systemd package (make deps)")
	}
	_, files, _ := ignition(t, overrideMC(t, overrideCases["cri-o and hook"]))
	root := t.TempDir()
	write := func(p string, data []byte, mode os.FileMode) {
		must(t, os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755))
		must(t, os.WriteFile(filepath.Join(root, p), data, mode))
	}
	units, err := filepath.Glob("/lib/systemd/system/*")
	if err != nil || len(units) == 0 {
		t.Fatalf("no systemd units on this machine: %v", err)
	}
	must(t, os.MkdirAll(filepath.Join(root, "usr/lib/systemd/system"), 0o755))
	cp := exec.Command("cp", append([]string{"-a"}, append(units, filepath.Join(root, "usr/lib/systemd/system"))...)...)
	if out, err := cp.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	write(machineconfig.EnvPath, files[machineconfig.EnvPath], 0o644)
	unitPath := "/etc/systemd/system/" + machineconfig.UnitName
	write(unitPath, files["unit"], 0o644)
	verify := func() (string, error) {
		out, err := exec.Command("systemd-analyze", "verify", "--root="+root, unitPath).CombinedOutput()
		return string(out), err
	}
	if out, err := verify(); err == nil || !strings.Contains(out, machineconfig.ScriptPath) {
		t.Errorf("without the script: %v\n%s", err, out)
	}
	write(machineconfig.ScriptPath, files[machineconfig.ScriptPath], 0o755)
	if out, err := verify(); err != nil || out != "" {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	write(unitPath, append(files["unit"], "Restrat=always\n"...), 0o644)
	if out, _ := verify(); !strings.Contains(out, "Restrat") {
		t.Errorf("a misspelt key passed verify:\n%s", out)
	}
}

func TestImageMode(t *testing.T) {
	s := loadMOSCSchema(t)
	for name, o := range imageCases {
		t.Run(name, func(t *testing.T) {
			files := generate(t, o)
			cf := string(files["Containerfile"])
			stages := lintContainerfile(t, cf)
			if o.Image.OffCluster {
				if len(files) != 1 || len(stages) != 1 || stages[0].BaseName != nodeImg {
					t.Errorf("off-cluster: files %d, stages %+v", len(files), stages)
				}
			} else {
				if len(files) != 3 {
					t.Errorf("on-cluster wrote %d files", len(files))
				}
				last := stages[len(stages)-1]
				if last.BaseName != "configs" || last.Name != "final" || stages[0].BaseName != rpmImage {
					t.Errorf("stages %+v: want the RPM image first and FROM configs AS final last", stages)
				}
				checkMOSC(t, s, o, files["machineosconfig.yaml"], cf)
				rpms := lintContainerfile(t, string(files["Containerfile.rpms"]))
				if len(rpms) != 1 || rpms[0].BaseName != "scratch" {
					t.Errorf("Containerfile.rpms stages %+v", rpms)
				}
			}
			run := stages[len(stages)-1].Commands[len(stages[len(stages)-1].Commands)-1].(*instructions.RunCommand)
			script := strings.Join(run.CmdLine, " ")
			type rpm struct{ file, sum string }
			var rpms []rpm
			if o.CRIORPM != "" {
				rpms = append(rpms, rpm{o.CRIORPM, o.CRIOSHA256})
			}
			if o.HookRPM != "" {
				rpms = append(rpms, rpm{o.HookRPM, o.HookSHA256})
			}
			for _, r := range rpms {
				check := "echo '" + r.sum + "  " + r.file + "' | sha256sum -c -"
				if i, j := strings.Index(script, check), strings.Index(script, "rpm-ostree"); i < 0 || i > j {
					t.Errorf("the RUN step does not check %s before rpm-ostree:\n%s", r.file, script)
				}
			}
			if o.CRIORPM != "" && !strings.Contains(script, `if [ "${base%.*}" != "$line" ]; then`) {
				t.Errorf("no CRI-O line check:\n%s", script)
			}
			for _, p := range expected(t, o) {
				if !strings.Contains(script, " "+p+" ") && !strings.Contains(script, " "+p+";") {
					t.Errorf("the build does not check for %s", p)
				}
			}
			if !regexp.MustCompile(`;\s+ostree container commit$`).MatchString(script) {
				t.Errorf("the layer is not committed last:\n%s", script)
			}
			checkShell(t, script)
		})
	}
}

// lintContainerfile parses with BuildKit's Dockerfile parser and its
// instruction parser, failing on any warning, and returns the stages.
func lintContainerfile(t *testing.T, cf string) []instructions.Stage {
	t.Helper()
	res, err := parser.Parse(strings.NewReader(cf))
	if err != nil {
		t.Fatalf("Containerfile does not parse: %v\n%s", err, cf)
	}
	for _, w := range res.Warnings {
		t.Errorf("parser warning: %s", w.Short)
	}
	stages, _, err := instructions.Parse(res.AST, nil)
	if err != nil {
		t.Fatalf("Containerfile instructions: %v\n%s", err, cf)
	}
	names := map[string]bool{}
	for _, st := range stages {
		for _, c := range st.Commands {
			if cp, ok := c.(*instructions.CopyCommand); ok && cp.From != "" && !names[cp.From] {
				t.Errorf("COPY --from=%s names no earlier stage", cp.From)
			}
		}
		if st.Name != "" {
			names[st.Name] = true
		}
	}
	return stages
}

// checkShell: the RUN step is valid POSIX shell (sh -n).
func checkShell(t *testing.T, script string) {
	t.Helper()
	cmd := exec.Command("sh", "-n")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("sh -n: %v\n%s\n%s", err, out, script)
	}
}

// checkMOSC: the MachineOSConfig decodes strictly into openshift/api's type,
// passes the CRD's schema, and embeds the Containerfile written beside it.
func checkMOSC(t *testing.T, s *schema, o machineconfig.Options, data []byte, cf string) {
	t.Helper()
	var typed mcfgv1.MachineOSConfig
	if err := yaml.UnmarshalStrict(data, &typed); err != nil {
		t.Fatalf("not a MachineOSConfig: %v", err)
	}
	if errs := validateMOSC(t, s, data); len(errs) > 0 {
		t.Errorf("schema violations:\n%s", strings.Join(errs, "\n"))
	}
	if typed.APIVersion != "machineconfiguration.openshift.io/v1" || typed.Kind != "MachineOSConfig" || typed.Name != o.Role || typed.Spec.MachineConfigPool.Name != o.Role {
		t.Errorf("object %s %s %s pool %s", typed.APIVersion, typed.Kind, typed.Name, typed.Spec.MachineConfigPool.Name)
	}
	if len(typed.Spec.Containerfile) != 1 || typed.Spec.Containerfile[0].Content != cf || typed.Spec.Containerfile[0].ContainerfileArch != mcfgv1.NoArch {
		t.Errorf("containerFile does not embed the Containerfile")
	}
	if typed.Spec.ImageBuilder.ImageBuilderType != mcfgv1.JobBuilder || typed.Spec.RenderedImagePushSecret.Name != o.Image.PushSecret {
		t.Errorf("spec %+v", typed.Spec)
	}
	if (o.Image.PullSecret != "") != (typed.Spec.BaseImagePullSecret != nil) {
		t.Errorf("baseImagePullSecret %+v", typed.Spec.BaseImagePullSecret)
	}
}

func TestGenerateErrors(t *testing.T) {
	ov := func(o machineconfig.Options) machineconfig.Options { o.Mode = "override"; return o }
	for _, tc := range []struct {
		name string
		o    machineconfig.Options
		want string
	}{
		{"nothing", ov(machineconfig.Options{Role: "worker"}), "nothing to install"},
		{"mode", machineconfig.Options{Mode: "layer", Role: "worker"}, `--mode "layer"`},
		{"master", ov(machineconfig.Options{Role: "master", CRIORPM: exampleCRIO, CRIOSHA256: sumA}), "--allow-control-plane"},
		{"master image", onCluster(machineconfig.Options{Role: "master", CRIORPM: crioFile, CRIOSHA256: sumA}), "--allow-control-plane"},
		{"no sha256", ov(machineconfig.Options{Role: "worker", CRIORPM: exampleCRIO}), "--cri-o-sha256 is mandatory"},
		{"no sha256 image", onCluster(machineconfig.Options{Role: "worker", CRIORPM: crioFile}), "--cri-o-sha256 is mandatory"},
		{"no hook sha256", ov(machineconfig.Options{Role: "worker", HookRPM: exampleHook}), "--hook-sha256 is mandatory"},
		{"short sha256", ov(machineconfig.Options{Role: "worker", CRIORPM: exampleCRIO, CRIOSHA256: "abc"}), "64 hex digits"},
		{"sha256 alone", ov(machineconfig.Options{Role: "worker", HookRPM: exampleHook, HookSHA256: sumB, CRIOSHA256: sumA}), "--cri-o-sha256 needs --cri-o-rpm"},
		{"bad role", ov(machineconfig.Options{Role: "Worker", CRIORPM: exampleCRIO, CRIOSHA256: sumA}), `--role "Worker"`},
		{"bad name", ov(machineconfig.Options{Role: "worker", Name: "99_worker", CRIORPM: exampleCRIO, CRIOSHA256: sumA}), `--name "99_worker"`},
		{"ftp", ov(machineconfig.Options{Role: "worker", CRIORPM: "ftp://example.com/cri-o.rpm", CRIOSHA256: sumA}), "https://"},
		{"quote", ov(machineconfig.Options{Role: "worker", CRIORPM: "https://example.com/x'y.rpm", CRIOSHA256: sumA}), `contains '\''`},
		{"space", ov(machineconfig.Options{Role: "worker", CRIORPM: "https://example.com/a b.rpm", CRIOSHA256: sumA}), `contains ' '`},
		{"credentials", ov(machineconfig.Options{Role: "worker", CRIORPM: "https://u:p@example.com/c.rpm", CRIOSHA256: sumA}), "credentials"},
		{"URL in image mode", onCluster(machineconfig.Options{Role: "worker", CRIORPM: exampleCRIO, CRIOSHA256: sumA}), "file name of the RPM in the build context"},
		{"src rpm", onCluster(machineconfig.Options{Role: "worker", CRIORPM: "cri-o-1.36.3-990.el9.src.rpm", CRIOSHA256: sumA}), "source RPM"},
		{"other package", onCluster(machineconfig.Options{Role: "worker", CRIORPM: "runc-1.0.3-992.el9.x86_64.rpm", CRIOSHA256: sumA}), `named "runc", want "cri-o"`},
		{"no rpm image", machineconfig.Options{Role: "worker", CRIORPM: crioFile, CRIOSHA256: sumA, Image: machineconfig.ImageOptions{PushSecret: "s"}}, "--rpm-image"},
		{"rpm image by tag", machineconfig.Options{Role: "worker", CRIORPM: crioFile, CRIOSHA256: sumA, Image: machineconfig.ImageOptions{PushSecret: "s", RPMImage: "quay.io/x/rpms:latest"}}, "by digest"},
		{"no push secret", machineconfig.Options{Role: "worker", CRIORPM: crioFile, CRIOSHA256: sumA, Image: machineconfig.ImageOptions{RPMImage: rpmImage}}, "--push-secret"},
		{"push spec", machineconfig.Options{Role: "worker", CRIORPM: crioFile, CRIOSHA256: sumA, Image: machineconfig.ImageOptions{RPMImage: rpmImage, PushSecret: "s", PushSpec: "quay.io/x/os"}}, "--push-spec"},
		{"off-cluster tag", machineconfig.Options{Role: "worker", CRIORPM: crioFile, CRIOSHA256: sumA, Image: machineconfig.ImageOptions{OffCluster: true, BaseImage: "quay.io/x/rhcos:4.19"}}, "--base-image"},
		{"base image on cluster", onCluster(machineconfig.Options{Role: "worker", CRIORPM: crioFile, CRIOSHA256: sumA, Image: machineconfig.ImageOptions{BaseImage: nodeImg}}), "--base-image is for --off-cluster"},
		{"host root", ov(machineconfig.Options{Role: "worker", CRIORPM: exampleCRIO, CRIOSHA256: sumA, SubIDs: machineconfig.SubIDRange{Owner: machineconfig.SubIDOwner, Start: 0, Count: 1 << 20}, NoCoreSubID: true}), "host root"},
		{"small", ov(machineconfig.Options{Role: "worker", CRIORPM: exampleCRIO, CRIOSHA256: sumA, SubIDs: machineconfig.SubIDRange{Owner: machineconfig.SubIDOwner, Start: 200000, Count: 1000}}), "less than one pod"},
		{"core", ov(machineconfig.Options{Role: "worker", CRIORPM: exampleCRIO, CRIOSHA256: sumA, SubIDs: machineconfig.SubIDRange{Owner: machineconfig.SubIDOwner, Start: 100000, Count: 1 << 20}}), "--core-subid=false"},
		{"project range", ov(machineconfig.Options{Role: "worker", CRIORPM: exampleCRIO, CRIOSHA256: sumA, SubIDs: machineconfig.SubIDRange{Owner: machineconfig.SubIDOwner, Start: 900000000, Count: 1 << 28}}), "project_root_range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := machineconfig.Generate(tc.o, os.DirFS(contribDir()))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestBrokenContrib: a missing or broken manifest or policy stops generation.
func TestBrokenContrib(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"files.manifest", "crio-userns/policy.toml"} {
		data, err := os.ReadFile(filepath.Join(contribDir(), f))
		must(t, err)
		must(t, os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755))
		must(t, os.WriteFile(filepath.Join(dir, f), data, 0o644))
	}
	o := overrideCases["example"]
	if _, err := machineconfig.Generate(o, os.DirFS(dir)); err != nil {
		t.Fatalf("copy of contrib/: %v", err)
	}
	must(t, os.WriteFile(filepath.Join(dir, "files.manifest"), []byte("cri-o file 0644 /etc/x a\n"), 0o644))
	if _, err := machineconfig.Generate(o, os.DirFS(dir)); err == nil || !strings.Contains(err.Error(), "contrib/files.manifest:1") {
		t.Errorf("broken manifest: %v", err)
	}
	must(t, os.Remove(filepath.Join(dir, "files.manifest")))
	if _, err := machineconfig.Generate(o, os.DirFS(dir)); err == nil || !strings.Contains(err.Error(), "contrib/files.manifest") {
		t.Errorf("missing manifest: %v", err)
	}
}

func TestWarnings(t *testing.T) {
	if w := overrideCases["example"].Warnings(); len(w) != 0 {
		t.Errorf("example: %q", w)
	}
	if w := overrideCases["cri-o and hook"].Warnings(); len(w) != 1 || !strings.Contains(w[0], "/usr/bin/crio-userns-hook") {
		t.Errorf("cri-o and hook: %q", w)
	}
	if w := overrideCases["odd URL"].Warnings(); len(w) != 1 || !strings.Contains(w[0], "http://") {
		t.Errorf("http: %q", w)
	}
}

// TestArgsRoundTrip: the header's command line renders the same options.
func TestArgsRoundTrip(t *testing.T) {
	for _, o := range imageCases {
		args := o.Args()
		if args[0] != "--mode" || args[1] != "image" {
			t.Errorf("args %q", args)
		}
	}
}
