package rpm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/crio-userns/crio-userns/internal/command"
)

// Packages are the files Build leaves in Options.Out.
type Packages struct {
	SRPMs []string
	RPMs  []string
}

// Build makes the source RPMs from Stage's inputs, then rebuilds each in a
// fresh rpmbuild tree, as a distribution builder would: with --nodeps (the
// BuildRequires name Red Hat packages; here the toolchain is Debian's and
// /usr/local/go) and, where it can, inside an empty network namespace so that
// a build reaching for the network fails. Out ends up holding exactly the
// new packages.
func Build(ctx context.Context, o *Options, in *Inputs) (*Packages, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	// Same inputs as the packages in Out were built from: keep them.
	sum, err := inputsSum(o, in)
	if err != nil {
		return nil, err
	}
	stamp := o.work("inputs.sha256")
	if prev, err := os.ReadFile(stamp); err == nil && string(prev) == sum {
		if pkgs, ok := existing(o, len(in.Specs)); ok {
			fmt.Printf("crio-rpm: the packages in %s were built from these inputs (%s); not rebuilding\n", o.Out, stamp)
			return pkgs, nil
		}
	}
	os.Remove(stamp)
	srpmTop := o.work("srpm")
	if err := resetDir(srpmTop); err != nil {
		return nil, err
	}
	for _, spec := range in.Specs {
		args := append(o.defines(srpmTop), "--define", "_sourcedir "+in.Sources, "-bs", spec)
		if err := o.rpmbuild(ctx, "source RPM of "+filepath.Base(spec), o.work(strings.TrimSuffix(filepath.Base(spec), ".spec")+".srpm.log"), false, args...); err != nil {
			return nil, err
		}
	}
	srpms, _ := filepath.Glob(filepath.Join(srpmTop, "SRPMS", "*.src.rpm"))
	if len(srpms) != len(in.Specs) {
		return nil, fmt.Errorf("rpmbuild -bs made %d source RPMs for %d specs: %v", len(srpms), len(in.Specs), srpms)
	}

	offline := netnsWorks(ctx)
	if !offline {
		fmt.Println("crio-rpm: cannot create a network namespace (needs root and unshare): rebuilding with GOPROXY=off only")
	}
	pkgs := &Packages{}
	for _, srpm := range srpms {
		name := strings.TrimSuffix(filepath.Base(srpm), ".src.rpm")
		top := o.work("rebuild", name)
		if err := resetDir(top); err != nil {
			return nil, err
		}
		args := append(o.defines(top), "--nodeps", "--rebuild", srpm)
		if err := o.rpmbuild(ctx, "rebuild of "+filepath.Base(srpm), o.work(name+".build.log"), offline, args...); err != nil {
			return nil, err
		}
		built, _ := filepath.Glob(filepath.Join(top, "RPMS", "*", "*.rpm"))
		if len(built) == 0 {
			return nil, fmt.Errorf("rpmbuild --rebuild %s made no package", srpm)
		}
		pkgs.RPMs = append(pkgs.RPMs, built...)
	}
	pkgs.SRPMs = srpms

	old, _ := filepath.Glob(filepath.Join(o.Out, "*.rpm"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return nil, err
		}
	}
	var final Packages
	for _, set := range []struct {
		from []string
		to   *[]string
	}{{pkgs.SRPMs, &final.SRPMs}, {pkgs.RPMs, &final.RPMs}} {
		for _, f := range set.from {
			dst := filepath.Join(o.Out, filepath.Base(f))
			if err := os.Rename(f, dst); err != nil {
				return nil, err
			}
			*set.to = append(*set.to, dst)
		}
		sort.Strings(*set.to)
	}
	if err := os.WriteFile(stamp, []byte(sum), 0o644); err != nil {
		return nil, err
	}
	return &final, nil
}

// inputsSum is the sha256 of everything a build depends on: every staged
// source, the specs, the rpmbuild definitions and the toolchain.
func inputsSum(o *Options, in *Inputs) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "defines %q\n", o.defines(""))
	if v, err := exec.Command("go", "env", "GOVERSION").Output(); err == nil {
		fmt.Fprintf(h, "go %s", v)
	}
	if v, err := exec.Command("rpmbuild", "--version").Output(); err == nil {
		fmt.Fprintf(h, "rpmbuild %s", v)
	}
	files, err := filepath.Glob(filepath.Join(in.Sources, "*"))
	if err != nil {
		return "", err
	}
	files = append(files, in.Specs...)
	sort.Strings(files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %x\n", filepath.Base(f), sha256.Sum256(data))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// existing returns the packages in Out when there is one source RPM per spec
// and one binary RPM per source RPM.
func existing(o *Options, specs int) (*Packages, bool) {
	srpms, _ := filepath.Glob(filepath.Join(o.Out, "*.src.rpm"))
	all, _ := filepath.Glob(filepath.Join(o.Out, "*.rpm"))
	if len(srpms) != specs || len(all) != 2*specs {
		return nil, false
	}
	p := &Packages{SRPMs: srpms}
	for _, f := range all {
		if !strings.HasSuffix(f, ".src.rpm") {
			p.RPMs = append(p.RPMs, f)
		}
	}
	return p, true
}

// defines are the rpmbuild options every call shares.
func (o *Options) defines(top string) []string {
	args := []string{"--define", "_topdir " + top}
	if o.Dist != "" {
		args = append(args, "--define", "dist "+o.Dist)
	}
	return args
}

// rpmbuild runs rpmbuild, its output going to logFile and o.Log; offline
// runs it in a new, empty network namespace.
func (o *Options) rpmbuild(ctx context.Context, what, logFile string, offline bool, args ...string) error {
	name, argv := "rpmbuild", args
	if offline {
		name, argv = "unshare", append([]string{"--net", "--", "rpmbuild"}, args...)
	}
	fmt.Printf("crio-rpm: %s%s (log: %s)\n", what, map[bool]string{true: ", network cut", false: ""}[offline], logFile)
	start := time.Now()
	log, err := os.Create(logFile)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.CommandContext(ctx, name, argv...)
	cmd.Dir = o.Root
	if err := command.Run(cmd, io.MultiWriter(log, o.Log)); err != nil {
		return fmt.Errorf("%s failed: %w", what, err)
	}
	fmt.Printf("crio-rpm: %s done in %v\n", what, time.Since(start).Round(time.Second))
	return nil
}

func netnsWorks(ctx context.Context) bool {
	return exec.CommandContext(ctx, "unshare", "--net", "--", "true").Run() == nil
}

func resetDir(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.MkdirAll(dir, 0o755)
}
