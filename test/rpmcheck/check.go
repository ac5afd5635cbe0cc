// Package rpmcheck checks the RPMs `make rpm` built (internal/rpm): rpmlint,
// the exact file lists, parity with OpenShift's own cri-o package of the same
// CRI-O line, the manifest of shipped files, an install into an empty root,
// what the installed binaries report, and one e2e scenario on a node whose
// crio is the installed one. `make rpm-check` runs it (test/cmd/rpm-check).
package rpmcheck

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/crio-userns/crio-userns/internal/command"
	"github.com/crio-userns/crio-userns/internal/manifest"
	"github.com/crio-userns/crio-userns/internal/rpm"
)

// Options select what Check does besides the static checks.
type Options struct {
	UpdateExpected bool   // rewrite rpm/*.files.expected instead of comparing
	E2E            bool   // run the e2e scenario on the installed crio
	E2EDir         string // CRIO_USERNS_E2E_DIR for it
	Stdout         io.Writer
}

// checker collects failures so that one run reports all of them.
type checker struct {
	out      io.Writer
	failures []string
}

func (c *checker) ok(format string, args ...any) {
	fmt.Fprintf(c.out, "ok    %s\n", fmt.Sprintf(format, args...))
}

func (c *checker) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	c.failures = append(c.failures, msg)
	fmt.Fprintf(c.out, "FAIL  %s\n", msg)
}

// Check checks the packages Build left in o.Out. It returns an error naming
// every check that failed.
func Check(ctx context.Context, o *rpm.Options, co Options) error {
	if err := o.Validate(); err != nil {
		return err
	}
	if co.Stdout == nil {
		co.Stdout = os.Stdout
	}
	c := &checker{out: co.Stdout}
	macros, err := rpm.ReadMacros(o.WorkDir("SOURCES", rpm.MacrosFile))
	if err != nil {
		return err
	}
	arch, err := rpmOutput(ctx, "rpm", "--eval", "%{_arch}")
	if err != nil {
		return err
	}
	arch = strings.TrimSpace(arch)
	crioVR := o.CrioRPMVersion() + "-" + o.CrioRelease()
	hookVR := o.HookVersion + "-" + o.HookRelease + o.Dist
	want := map[string]string{
		"cri-o":                "cri-o-" + crioVR + "." + arch + ".rpm",
		"cri-o.src":            "cri-o-" + crioVR + ".src.rpm",
		"crio-userns-hook":     "crio-userns-hook-" + hookVR + "." + arch + ".rpm",
		"crio-userns-hook.src": "crio-userns-hook-" + hookVR + ".src.rpm",
	}
	var all []string
	for _, k := range []string{"cri-o.src", "cri-o", "crio-userns-hook.src", "crio-userns-hook"} {
		p := filepath.Join(o.Out, want[k])
		if _, err := os.Stat(p); err != nil {
			c.fail("%s: not built (%v); run `make rpm`", want[k], err)
			continue
		}
		all = append(all, p)
	}
	if len(c.failures) > 0 {
		return summary(c)
	}
	crioRPM, hookRPM := filepath.Join(o.Out, want["cri-o"]), filepath.Join(o.Out, want["crio-userns-hook"])
	c.ok("built: %s", strings.Join(baseNames(all), ", "))

	checkSeriesCurrent(c, o, macros)
	checkLint(ctx, c, o, all)
	for _, p := range []struct{ name, rpm string }{{"cri-o", crioRPM}, {"crio-userns-hook", hookRPM}} {
		checkFileList(ctx, c, o, p.name, p.rpm, co.UpdateExpected)
	}
	checkParity(ctx, c, o, crioRPM)
	checkGlibc(ctx, c, o, crioRPM)
	root := o.WorkDir("root")
	if installRoot(ctx, c, root, crioRPM, hookRPM) {
		checkInstalled(ctx, c, o, root, macros)
		if co.E2E && len(c.failures) == 0 {
			runE2E(ctx, c, o, root, co)
		} else if co.E2E {
			c.fail("e2e scenario not run: the checks above failed")
		}
	}
	return summary(c)
}

func summary(c *checker) error {
	if len(c.failures) == 0 {
		fmt.Fprintln(c.out, "crio-rpm: every RPM check passed")
		return nil
	}
	return fmt.Errorf("%d RPM check(s) failed:\n  %s", len(c.failures), strings.Join(c.failures, "\n  "))
}

// checkSeriesCurrent: the packages must hold the series the checkout holds now.
func checkSeriesCurrent(c *checker, o *rpm.Options, macros map[string]string) {
	files, _ := filepath.Glob(filepath.Join(o.Root, "patches", o.CrioVersion, "*.patch"))
	if n := strconv.Itoa(len(files)); macros["crio_userns_patches"] != n {
		c.fail("the RPMs carry %s patches, patches/%s holds %s: run `make rpm` again", macros["crio_userns_patches"], o.CrioVersion, n)
		return
	}
	c.ok("series patches/%s: %s patches, sha256 %s", o.CrioVersion, macros["crio_userns_patches"], macros["crio_userns_series_sha256"])
}

// rpmlintSummary is rpmlint 2's last line, e.g.
// "4 packages and 0 specfiles checked; 0 errors, 2 warnings, 3 filtered, 0 badness; has taken 1.2 s".
var rpmlintSummary = regexp.MustCompile(`(\d+) errors?, (\d+) warnings?`)

// checkLint runs rpmlint once per package: given several source RPMs,
// rpmlint 2.4 extracts them into one directory and reports multiple-specfiles.
func checkLint(ctx context.Context, c *checker, o *rpm.Options, pkgs []string) {
	cfg := filepath.Join(o.Root, "rpm", "rpmlint.toml")
	errors, warnings := 0, 0
	for _, pkg := range pkgs {
		out, err := exec.CommandContext(ctx, "rpmlint", "-c", cfg, pkg).CombinedOutput()
		text := strings.TrimRight(string(out), "\n")
		m := rpmlintSummary.FindStringSubmatch(text)
		if m == nil {
			c.fail("rpmlint %s gave no summary (%v):\n%s", filepath.Base(pkg), err, indent(text))
			continue
		}
		e, _ := strconv.Atoi(m[1])
		w, _ := strconv.Atoi(m[2])
		errors, warnings = errors+e, warnings+w
		for _, l := range strings.Split(text, "\n") {
			if strings.Contains(l, ": E: ") || strings.Contains(l, ": W: ") {
				fmt.Fprintf(c.out, "      %s\n", l)
			}
		}
		if e > 0 || err != nil {
			c.fail("rpmlint %s: %d errors, %d warnings (exit: %v)", filepath.Base(pkg), e, w, err)
		}
	}
	if errors == 0 && len(c.failures) == 0 {
		c.ok("rpmlint: %d packages, 0 errors, %d warnings (accepted messages are filtered, with reasons, in rpm/rpmlint.toml)", len(pkgs), warnings)
	}
}

// FileList is `rpm -qlp` with each file's mode and flags:
// "-rwxr-xr-x - /usr/bin/crio", "-rw-r--r-- cn /etc/...", flags "-" for none.
func FileList(ctx context.Context, pkg string) ([]string, error) {
	out, err := rpmOutput(ctx, "rpm", "-qp", "--qf", `[%{FILEMODES:perms} %{FILEFLAGS:fflags} %{FILENAMES}\n]`, pkg)
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.SplitN(l, " ", 3)
		if len(f) != 3 {
			return nil, fmt.Errorf("rpm -qp %s: unexpected line %q", pkg, l)
		}
		if f[1] == "" {
			f[1] = "-"
		}
		lines = append(lines, strings.Join(f, " "))
	}
	sort.Slice(lines, func(i, j int) bool { return pathOf(lines[i]) < pathOf(lines[j]) })
	return lines, nil
}

func pathOf(line string) string { return line[strings.LastIndex(line, " ")+1:] }

// ReadExpected reads an expected file list: one FileList line per line,
// blank lines and #-comments ignored.
func ReadExpected(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.Join(strings.Fields(l), " ")
		if l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	return lines, nil
}

// DiffLists returns what want has and got lacks (missing) and the reverse.
func DiffLists(want, got []string) (missing, extra []string) {
	in := func(s []string) map[string]bool {
		m := map[string]bool{}
		for _, x := range s {
			m[x] = true
		}
		return m
	}
	w, g := in(want), in(got)
	for _, x := range want {
		if !g[x] {
			missing = append(missing, x)
		}
	}
	for _, x := range got {
		if !w[x] {
			extra = append(extra, x)
		}
	}
	return missing, extra
}

// mcoManaged are files the Machine Config Operator writes: cri-o must not own
// them, nor any other crio.conf.d drop-in than its own. (/etc/crio/crio.conf
// is the package's default configuration, which OpenShift's package ships
// too; the MCO's settings live in crio.conf.d/00-default.)
var mcoManaged = []string{"/etc/crio/crio.conf.d/00-default"}

func checkFileList(ctx context.Context, c *checker, o *rpm.Options, name, pkg string, update bool) {
	got, err := FileList(ctx, pkg)
	if err != nil {
		c.fail("%s: %v", name, err)
		return
	}
	for _, l := range got {
		p := pathOf(l)
		for _, m := range mcoManaged {
			if p == m {
				c.fail("%s owns %s, which the MCO manages", name, p)
			}
		}
		if strings.HasPrefix(p, "/etc/crio/crio.conf.d/") && p != "/etc/crio/crio.conf.d/99-crio-userns.conf" {
			c.fail("%s owns the drop-in %s: only 99-crio-userns.conf is ours", name, p)
		}
	}
	expected := filepath.Join(o.Root, "rpm", name+".files.expected")
	if update {
		text := "# rpm -qp --qf '[%{FILEMODES:perms} %{FILEFLAGS:fflags} %{FILENAMES}\\n]' " + name + ".rpm\n" +
			"# (flags: c config, n noreplace, d doc, l license; - none). Checked by `make rpm-check`;\n" +
			"# `make rpm-check RPM_UPDATE_EXPECTED=1` rewrites it from the packages built.\n" + strings.Join(got, "\n") + "\n"
		if err := os.WriteFile(expected, []byte(text), 0o644); err != nil {
			c.fail("%v", err)
			return
		}
		c.ok("%s: wrote %s (%d entries)", name, rel(o.Root, expected), len(got))
		return
	}
	want, err := ReadExpected(expected)
	if err != nil {
		c.fail("%s: %v", name, err)
		return
	}
	missing, extra := DiffLists(want, got)
	if len(missing)+len(extra) > 0 {
		var b strings.Builder
		for _, x := range missing {
			fmt.Fprintf(&b, "\n      - %s", x)
		}
		for _, x := range extra {
			fmt.Fprintf(&b, "\n      + %s", x)
		}
		c.fail("%s: file list differs from %s (- expected, not in the package; + in the package, not expected):%s", name, rel(o.Root, expected), b.String())
		return
	}
	c.ok("%s: file list matches %s (%d entries)", name, rel(o.Root, expected), len(got))
}

// glibcOf is the newest glibc each target's base image has.
var glibcOf = map[string]string{".el8": "2.28", ".el9": "2.34", ".el10": "2.39"}

var glibcReq = regexp.MustCompile(`libc\.so\.6\(GLIBC_([0-9.]+)\)`)

// NewestGlibc returns the newest GLIBC_x.y symbol version in an RPM's requires.
func NewestGlibc(requires string) string {
	newest := ""
	for _, m := range glibcReq.FindAllStringSubmatch(requires, -1) {
		if newest == "" || versionLess(newest, m[1]) {
			newest = m[1]
		}
	}
	return newest
}

func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// checkGlibc: crio is linked against the build machine's glibc; the RPM's
// automatic requires say which it needs, and the target must have it.
func checkGlibc(ctx context.Context, c *checker, o *rpm.Options, pkg string) {
	req, err := rpmOutput(ctx, "rpm", "-qpR", pkg)
	if err != nil {
		c.fail("%v", err)
		return
	}
	need := NewestGlibc(req)
	have, known := glibcOf[o.Dist]
	switch {
	case need == "":
		c.ok("cri-o requires no versioned glibc symbol")
	case known && versionLess(have, need):
		c.fail("crio needs glibc %s but %s nodes have %s: build the SRPM in a buildroot of %s (mock), not here", need, strings.TrimPrefix(o.Dist, "."), have, strings.TrimPrefix(o.Dist, "."))
	case known:
		c.ok("crio needs glibc >= %s; %s has %s", need, strings.TrimPrefix(o.Dist, "."), have)
	default:
		c.ok("crio needs glibc >= %s (dist %q: no known glibc to compare)", need, o.Dist)
	}
}

// installRoot installs both packages into an empty root, in one transaction
// (so the files they share must be identical). The root gets only a static
// shell, for the scriptlets.
func installRoot(ctx context.Context, c *checker, root string, pkgs ...string) bool {
	if err := resetDir(root); err != nil {
		c.fail("%v", err)
		return false
	}
	shell := "none"
	if bb, err := exec.LookPath("busybox"); err == nil {
		if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err == nil {
			if err := copyFile(bb, filepath.Join(root, "bin", "sh"), 0o755); err == nil {
				shell = "busybox as /bin/sh"
			}
		}
		_ = os.MkdirAll(filepath.Join(root, "var", "tmp"), 0o1777)
	}
	args := append([]string{"--root", root, "--nodeps", "-i"}, pkgs...)
	out, err := exec.CommandContext(ctx, "rpm", args...).CombinedOutput()
	var problems []string
	for _, l := range strings.Split(string(out), "\n") {
		// Debian's rpm says it should not be used directly; nothing else may appear.
		if l != "" && !strings.HasPrefix(l, "rpm: ") {
			problems = append(problems, l)
		}
	}
	if err != nil || len(problems) > 0 {
		c.fail("rpm --root %s --nodeps -i %s: %v\n%s", root, strings.Join(baseNames(pkgs), " "), err, indent(strings.Join(problems, "\n")))
		return false
	}
	c.ok("installed %s into an empty root %s (shell for scriptlets: %s)", strings.Join(baseNames(pkgs), " and "), root, shell)
	return true
}

var versionField = regexp.MustCompile(`(?m)^(Version|GitCommit):\s+(.*)$`)

func checkInstalled(ctx context.Context, c *checker, o *rpm.Options, root string, macros map[string]string) {
	n, _ := strconv.Atoi(macros["crio_userns_patches"])
	wantCommit := o.BuildCommit(macros["crio_userns_series"], n, macros["crio_userns_series_sha256"])

	// The drop-in the RPM installs parses with the crio it installs.
	crio := filepath.Join(root, "usr/bin/crio")
	out, err := exec.CommandContext(ctx, crio, "--config", "", "--config-dir", filepath.Join(root, "etc/crio/crio.conf.d"), "version").CombinedOutput()
	fields := map[string]string{}
	for _, m := range versionField.FindAllStringSubmatch(string(out), -1) {
		fields[m[1]] = strings.TrimSpace(m[2])
	}
	switch {
	case err != nil:
		c.fail("%s version (with the installed crio.conf.d): %v\n%s", crio, err, indent(command.Tail(string(out), 20)))
	case fields["Version"] != o.CrioRPMVersion():
		c.fail("installed crio version reports Version %q, want %q", fields["Version"], o.CrioRPMVersion())
	case fields["GitCommit"] != wantCommit:
		c.fail("installed crio version reports GitCommit %q, want %q", fields["GitCommit"], wantCommit)
	default:
		c.ok("installed `crio version`: Version %s, GitCommit %s", fields["Version"], fields["GitCommit"])
	}

	hook := filepath.Join(root, "usr/bin/crio-userns-hook")
	out, err = exec.CommandContext(ctx, hook, "--version").CombinedOutput()
	wantHook := "crio-userns-hook " + o.HookVersion + "+git." + macros["crio_userns_git"]
	if got := strings.TrimSpace(string(out)); err != nil || got != wantHook {
		c.fail("installed `crio-userns-hook --version`: %q (%v), want %q", got, err, wantHook)
	} else {
		c.ok("installed `crio-userns-hook --version`: %s", got)
	}

	if info, err := os.Stat(filepath.Join(root, "usr/bin/pinns")); err != nil || info.Mode()&0o111 == 0 {
		c.fail("pinns is not installed as an executable /usr/bin/pinns (CRI-O's default pinns_path): %v", err)
	} else {
		c.ok("pinns installed at /usr/bin/pinns, CRI-O's default pinns_path")
	}

	checkManifest(c, o, root)
	var hooksd struct {
		Hook struct{ Path string } `json:"hook"`
	}
	data, err := os.ReadFile(filepath.Join(root, "usr/share/containers/oci/hooks.d/crio-userns-hook.json"))
	if err == nil {
		err = json.Unmarshal(data, &hooksd)
	}
	if err == nil {
		if info, serr := os.Stat(filepath.Join(root, hooksd.Hook.Path)); serr != nil || info.Mode()&0o111 == 0 || !filepath.IsAbs(hooksd.Hook.Path) {
			err = fmt.Errorf("hook.path %q is not an installed executable", hooksd.Hook.Path)
		}
	}
	if err != nil {
		c.fail("hooks.d entry: %v", err)
	} else {
		c.ok("hooks.d entry runs %s, which the RPM installs", hooksd.Hook.Path)
	}
}

const e2eScenario = "TestMapToRootFallsBackToContainerRunAsUser"

// runE2E runs field report 000 without runAsUser on a node bench whose
// crio and pinns are the installed ones.
func runE2E(ctx context.Context, c *checker, o *rpm.Options, root string, co Options) {
	bin := filepath.Join(root, "usr/bin")
	fmt.Fprintf(c.out, "crio-rpm: e2e %s with CRIO_PATCHED_DIR=%s CRIO_USERNS_E2E_DIR=%s\n", e2eScenario, bin, co.E2EDir)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-v", "-timeout", "25m", "-run", "^"+e2eScenario+"$", "./test/e2e/")
	cmd.Dir = o.Root
	cmd.Env = append(os.Environ(), "CRIO_VERSION="+o.CrioVersion, "CRIO_PATCHED_DIR="+bin, "CRIO_USERNS_E2E_DIR="+co.E2EDir)
	var out bytes.Buffer
	cmd.Stdout = io.MultiWriter(&out, co.Stdout)
	cmd.Stderr = cmd.Stdout
	err := cmd.Run()
	if err != nil || !strings.Contains(out.String(), "--- PASS: "+e2eScenario) {
		c.fail("e2e %s on the installed crio: %v", e2eScenario, err)
		return
	}
	c.ok("e2e %s passed on the installed crio and pinns", e2eScenario)
}

func rpmOutput(ctx context.Context, name string, args ...string) (string, error) {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

func baseNames(paths []string) []string {
	var n []string
	for _, p := range paths {
		n = append(n, filepath.Base(p))
	}
	return n
}

func rel(root, p string) string {
	if r, err := filepath.Rel(root, p); err == nil {
		return r
	}
	return p
}

func indent(s string) string {
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fmt.Fprintf(&b, "      %s\n", sc.Text())
	}
	return strings.TrimRight(b.String(), "\n")
}

func resetDir(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.MkdirAll(dir, 0o755)
}

func copyFile(src, dst string, mode os.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, mode)
}

// checkParity: the cri-o package ships and requires everything OpenShift's
// own cri-o package of the same CRI-O line does (rpm/parity/), less the
// exclusions listed there with their reasons.
func checkParity(ctx context.Context, c *checker, o *rpm.Options, pkg string) {
	path := ParityFile(o.Root, o.CrioVersion)
	p, err := ReadParity(path)
	if err != nil {
		c.fail("parity with OpenShift's cri-o: %v (every supported CRI-O line needs its list)", err)
		return
	}
	files, err := FileList(ctx, pkg)
	if err != nil {
		c.fail("%v", err)
		return
	}
	req, err := rpmOutput(ctx, "rpm", "-qpR", pkg)
	if err != nil {
		c.fail("%v", err)
		return
	}
	prov, err := rpmOutput(ctx, "rpm", "-qp", "--provides", pkg)
	if err != nil {
		c.fail("%v", err)
		return
	}
	missing := p.Compare(files, strings.Split(req, "\n"), strings.Split(prov, "\n"))
	if len(missing) > 0 {
		c.fail("cri-o lacks what OpenShift's cri-o ships (%s):\n      %s", rel(o.Root, path), strings.Join(missing, "\n      "))
		return
	}
	c.ok("cri-o ships and requires all of %s (%d files, %d requirements, %d exclusions)", rel(o.Root, path), len(p.Files), len(p.Requires), len(p.Excluded))
}

// checkManifest: every entry of contrib/files.manifest is installed with its
// mode, and every file is the checkout's source, byte for byte (the drop-in
// as adjusted for this CRI-O line).
func checkManifest(c *checker, o *rpm.Options, root string) {
	m, err := manifest.Load(o.Root)
	if err != nil {
		c.fail("%v", err)
		return
	}
	bad := 0
	for _, e := range m.Entries {
		inst := filepath.Join(root, e.PackagedPath())
		info, err := os.Stat(inst)
		if err != nil {
			c.fail("manifest entry %s not installed: %v", e.PackagedPath(), err)
			bad++
			continue
		}
		if info.Mode().Perm() != e.Mode.Perm() {
			c.fail("%s installed with mode %04o, the manifest says %04o", e.PackagedPath(), info.Mode().Perm(), e.Mode.Perm())
			bad++
		}
		if e.Type == manifest.TypeFile || e.Type == manifest.TypeConfig {
			a, errA := os.ReadFile(inst)
			b, errB := manifest.Content(o.Root, o.CrioVersion, e)
			if errA != nil || errB != nil || !bytes.Equal(a, b) {
				c.fail("installed %s differs from %s (%v %v): the RPMs are older than the checkout, run `make rpm`", e.Path, e.Source, errA, errB)
				bad++
			}
		}
	}
	if bad == 0 {
		c.ok("every entry of %s is installed with its mode and the checkout's bytes (%d entries)", manifest.File, len(m.Entries))
	}
}
