package app

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/crio-userns/crio-userns/hook/internal/bundle"
	"github.com/crio-userns/crio-userns/hook/internal/checks"
	"github.com/crio-userns/crio-userns/hook/internal/registry"
	"github.com/crio-userns/crio-userns/internal/policy"
)

// runValidate lints a bundle offline: the same checks as hook mode but
// check 5 (there is no process whose live maps to read) and a read-only
// check 7 (the registry is consulted, not written). Output is for people;
// the exit status is 1 when a check found an error, whatever the mode, so
// that scripts can gate on it.
func runValidate(f flags, o Options) int {
	w := o.Stdout
	dir, err := filepath.Abs(f.bundle)
	if err != nil {
		return validateFail(o, err.Error(), "pass an existing bundle directory")
	}
	data, err := bundle.ReadConfig(dir)
	if err != nil {
		return validateFail(o, "reading the bundle's config.json: "+err.Error(), "pass an OCI bundle directory (one with config.json)")
	}
	spec, userns, err := bundle.ParseSpec(data)
	if err != nil {
		return validateFail(o, err.Error(), "fix config.json")
	}
	fmt.Fprintf(w, "bundle:    %s\n", dir)
	if !userns {
		fmt.Fprintf(w, "result:    no user namespace in config.json; nothing to check (the hook exits 0 at once)\n")
		return ExitOK
	}
	target := bundle.TargetOf(spec, nil)
	if target.ContainerID == "" {
		target.ContainerID = filepath.Base(dir)
		if target.Container == "" {
			target.Container = target.ContainerID
		}
	}
	pol, err := policy.Load(f.policy)
	if err != nil {
		return validateFail(o, err.Error(), "fix the policy file (see crio-userns-hook(8))")
	}
	res, err := pol.Resolve()
	if err != nil {
		return validateFail(o, "policy: "+err.Error(), "fix the file")
	}
	policyName := f.policy
	if policyName == "" {
		policyName = policy.DefaultPath + " (or the defaults, when absent)"
	}
	fmt.Fprintf(w, "container: %s\n", target)
	fmt.Fprintf(w, "policy:    %s, mode %s\n", policyName, pol.Mode)

	nsPath, _ := bundle.UserNamespacePath(spec)
	s := &subject{dir: dir, spec: spec, target: target, pol: res, nsPath: nsPath}
	findings := s.checksOneToSix(func(string) {})
	fmt.Fprintf(w, "userns:    %s\n", describeOrigin(s))
	if s.joined() && (len(spec.Linux.UIDMappings) == 0 || len(spec.Linux.GIDMappings) == 0) {
		fmt.Fprintf(w, "note:      config.json joins %s without listing its maps; checks on them run at container start\n", nsPath)
	}

	reg := &registry.Registry{Dir: pol.RegistryDir, ProcRoot: f.procRoot}
	conflicts, st, err := reg.Check(s.entry(), res.RootRange)
	regNote := fmt.Sprintf("%d running containers registered in %s", st.Entries, pol.RegistryDir)
	if err != nil {
		regNote = "registry unreadable: " + err.Error()
	}
	findings = append(findings, checks.CheckCrossPod(overlaps(conflicts))...)

	var nErr, nWarn int
	for _, id := range checks.All {
		var mine []checks.Finding
		for _, fd := range findings {
			if fd.Check == id {
				mine = append(mine, fd)
			}
		}
		label := fmt.Sprintf("check %d %-18s", int(id), id)
		switch {
		case id == checks.LiveMaps:
			fmt.Fprintf(w, "%s skipped: no container process offline (checked by the hook at container start)\n", label)
			continue
		case id == checks.ImageAccounts && pol.ImageAccounts == policy.AccountsOff:
			fmt.Fprintf(w, "%s skipped: image_accounts = \"off\"\n", label)
			continue
		case id == checks.CrossPod && len(mine) == 0:
			fmt.Fprintf(w, "%s ok (%s)\n", label, regNote)
			continue
		case len(mine) == 0:
			fmt.Fprintf(w, "%s ok\n", label)
			continue
		}
		for _, fd := range mine {
			tag := "FAIL"
			if fd.Severity == checks.Warning {
				tag = "WARN"
				nWarn++
			} else {
				nErr++
			}
			fmt.Fprintf(w, "%s %s %s\n", label, tag, fd.Reason)
			fmt.Fprintf(w, "%s      fix: %s\n", strings.Repeat(" ", len(label)), fd.Fix)
		}
	}
	fmt.Fprintf(w, "result:    %d error(s), %d warning(s)", nErr, nWarn)
	if nErr > 0 && pol.Mode == policy.Enforce {
		fmt.Fprintf(w, "; the hook would refuse this container\n")
		return ExitFail
	}
	if nErr > 0 {
		fmt.Fprintf(w, "; audit mode: the hook would log and let it run\n")
		return ExitFail
	}
	io.WriteString(w, "\n")
	return ExitOK
}

// describeOrigin says where the container's mappings come from, as check 3
// sees it.
func describeOrigin(s *subject) string {
	key, value := bundle.UsernsMode(s.spec)
	o := s.origin()
	switch {
	case key != "":
		return fmt.Sprintf("%s annotation %q", key, value)
	case o.Native() && s.pol.Kubelet != nil:
		return "native (hostUsers: false): the kubelet's block, no userns-mode annotation; the kubelet's range is allowed"
	case o.Native():
		return "native (hostUsers: false): the kubelet's block, no userns-mode annotation; the kubelet's range is not allowed (kubelet_subid_owner = \"none\")"
	}
	return "no userns-mode annotation and not the kubelet's one-block shape (CRI-O's own uid_mappings?)"
}

func validateFail(o Options, reason, fix string) int {
	fmt.Fprintf(o.Stderr, "%s validate: %s; %s\n", Prog, oneLine(reason), oneLine(fix))
	return ExitFail
}
