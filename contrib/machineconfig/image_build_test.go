package machineconfig_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/crio-userns/crio-userns/contrib/machineconfig"
)

// The Containerfile's RUN step runs here as the build would run it, with
// stand-ins for rpm, rpm-ostree and ostree first on PATH and the image's
// root moved under a temporary directory: the checks it makes must stop
// the build for each wrong input, before rpm-ostree where they can.
const buildStandins = `
cat >"$BIN/rpm" <<'EOF'
#!/bin/bash
echo "rpm $*" >>"$ROOT/calls"
# An RPM here is a text file "VERSION NEVRA"; the image's packages are $ROOT/db/NAME.
case "$1 $3" in
"-qp %{VERSION}") read -r v n <"$4"; printf %s "$v" ;;
"-qp %{NEVRA}") read -r v n <"$4"; printf %s "$n" ;;
"-q %{VERSION}") [ -f "$ROOT/db/$4" ] || { echo "package $4 is not installed"; exit 1; }; read -r v n <"$ROOT/db/$4"; printf %s "$v" ;;
"-q %{NEVRA}") [ -f "$ROOT/db/$4" ] || { echo "package $4 is not installed"; exit 1; }; read -r v n <"$ROOT/db/$4"; printf %s "$n" ;;
*) echo "rpm stand-in: $*" >&2; exit 2 ;;
esac
EOF
cat >"$BIN/rpm-ostree" <<'EOF'
#!/bin/bash
echo "rpm-ostree $*" >>"$ROOT/calls"
f=${@: -1}
name=$(basename "$f"); name=${name%%-[0-9]*}
[ -f "$ROOT/inactive" ] || cp "$f" "$ROOT/db/$name"
EOF
cat >"$BIN/ostree" <<'EOF'
#!/bin/bash
echo "ostree $*" >>"$ROOT/calls"
EOF
chmod +x "$BIN"/*
`

type fakeImage struct {
	t         *testing.T
	root, bin string
	cf        string
}

func newFakeImage(t *testing.T, o machineconfig.Options, rpmHeader string) *fakeImage {
	t.Helper()
	dir := t.TempDir()
	im := &fakeImage{t: t, root: filepath.Join(dir, "root"), bin: filepath.Join(dir, "bin")}
	for _, d := range []string{im.root + "/db", im.root + "/etc", im.root + "/tmp/crio-userns", im.bin} {
		must(t, os.MkdirAll(d, 0o755))
	}
	cmd := exec.Command("bash", "-c", buildStandins)
	cmd.Env = append(os.Environ(), "BIN="+im.bin, "ROOT="+im.root)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("stand-ins: %v\n%s", err, out)
	}
	// The COPY step: the RPM in /tmp/crio-userns, its sha256 pinned.
	rpm := filepath.Join(im.root, "tmp/crio-userns", crioFile)
	must(t, os.WriteFile(rpm, []byte(rpmHeader+"\n"), 0o644))
	sum := sha256.Sum256([]byte(rpmHeader + "\n"))
	if o.CRIOSHA256 == "" {
		o.CRIOSHA256 = hex.EncodeToString(sum[:])
	}
	im.cf = string(generate(t, o)["Containerfile"])
	// The base image's cri-o and every manifest file the packages would ship.
	im.installed("cri-o", "1.36.1 cri-o-1.36.1-1.rhaos4.23.el9.x86_64")
	for _, p := range expected(t, o) {
		must(t, os.MkdirAll(filepath.Join(im.root, filepath.Dir(p)), 0o755))
		must(t, os.WriteFile(filepath.Join(im.root, p), nil, 0o644))
	}
	return im
}

func (im *fakeImage) installed(name, header string) {
	must(im.t, os.WriteFile(filepath.Join(im.root, "db", name), []byte(header+"\n"), 0o644))
}

// build runs the last stage's RUN step with the image's absolute paths
// moved under the fake root.
func (im *fakeImage) build() (code int, out string, calls string) {
	im.t.Helper()
	stages := lintContainerfile(im.t, im.cf)
	last := stages[len(stages)-1]
	run := last.Commands[len(last.Commands)-1].(*instructions.RunCommand)
	script := strings.Join(run.CmdLine, " ")
	script = strings.NewReplacer(
		"/tmp/crio-userns", im.root+"/tmp/crio-userns",
		"/etc/subuid", im.root+"/etc/subuid",
		"/etc/subgid", im.root+"/etc/subgid",
		`[ -e "$p" ]`, `[ -e "`+im.root+`$p" ]`,
		"cd /;", "cd "+im.root+";",
	).Replace(script)
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = append(os.Environ(), "PATH="+im.bin+":"+os.Getenv("PATH"), "ROOT="+im.root)
	b, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		im.t.Fatal(err)
	}
	c, _ := os.ReadFile(filepath.Join(im.root, "calls"))
	return code, string(b), string(c)
}

const goodHeader = "1.36.3 cri-o-1.36.3-990.userns.1.el9.x86_64"

func TestImageBuildReplacesCRIO(t *testing.T) {
	for name, o := range map[string]machineconfig.Options{"on-cluster": imageCases["example"], "off-cluster": imageCases["off-cluster"]} {
		t.Run(name, func(t *testing.T) {
			o.CRIOSHA256 = ""
			im := newFakeImage(t, o, goodHeader)
			code, out, calls := im.build()
			if code != 0 {
				t.Fatalf("exit %d\n%s\ncalls:\n%s", code, out, calls)
			}
			if !strings.Contains(calls, "rpm-ostree override replace ./"+crioFile) || !strings.HasSuffix(calls, "ostree container commit\n") {
				t.Errorf("calls:\n%s", calls)
			}
			subuid, _ := os.ReadFile(filepath.Join(im.root, "etc/subuid"))
			subgid, _ := os.ReadFile(filepath.Join(im.root, "etc/subgid"))
			if string(subuid) != "core:100000:65536\ncontainers:200000:268435456\n" || string(subgid) != string(subuid) {
				t.Errorf("subuid %q subgid %q", subuid, subgid)
			}
			if _, err := os.Stat(filepath.Join(im.root, "tmp/crio-userns")); !os.IsNotExist(err) {
				t.Errorf("the RPMs stay in the image: %v", err)
			}
		})
	}
}

func TestImageBuildRefusesChecksumMismatch(t *testing.T) {
	o := imageCases["example"]
	o.CRIOSHA256 = strings.Repeat("0", 64)
	im := newFakeImage(t, o, goodHeader)
	code, out, calls := im.build()
	if code == 0 || strings.Contains(calls, "rpm-ostree") || !strings.Contains(out, "FAILED") {
		t.Errorf("exit %d\n%s\ncalls:\n%s", code, out, calls)
	}
}

func TestImageBuildRefusesOtherCRIOLine(t *testing.T) {
	o := imageCases["example"]
	o.CRIOSHA256 = ""
	im := newFakeImage(t, o, goodHeader)
	im.installed("cri-o", "1.35.2 cri-o-1.35.2-1.rhaos4.22.el9.x86_64")
	code, out, calls := im.build()
	if code == 0 || strings.Contains(calls, "rpm-ostree") {
		t.Errorf("exit %d\n%s\ncalls:\n%s", code, out, calls)
	}
	if !strings.Contains(out, "the node image runs CRI-O 1.35.2, the RPM is built for CRI-O 1.36") {
		t.Errorf("output:\n%s", out)
	}
}

func TestImageBuildRefusesInactiveReplacement(t *testing.T) {
	o := imageCases["example"]
	o.CRIOSHA256 = ""
	im := newFakeImage(t, o, goodHeader)
	must(t, os.WriteFile(filepath.Join(im.root, "inactive"), nil, 0o644))
	code, out, calls := im.build()
	if code == 0 || strings.Contains(calls, "ostree container commit") || !strings.Contains(out, "is not the installed cri-o") {
		t.Errorf("exit %d\n%s\ncalls:\n%s", code, out, calls)
	}
}

func TestImageBuildRefusesMissingManifestFile(t *testing.T) {
	o := imageCases["example"]
	o.CRIOSHA256 = ""
	im := newFakeImage(t, o, goodHeader)
	must(t, os.Remove(filepath.Join(im.root, "usr/bin/crio-userns-hook")))
	code, out, calls := im.build()
	if code == 0 || strings.Contains(calls, "ostree container commit") || !strings.Contains(out, "/usr/bin/crio-userns-hook missing: not a crio-userns build") {
		t.Errorf("exit %d\n%s\ncalls:\n%s", code, out, calls)
	}
}
