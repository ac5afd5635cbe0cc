package app

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/crio-userns/crio-userns/hook/internal/bundle"
	"github.com/crio-userns/crio-userns/hook/internal/checks"
	"github.com/crio-userns/crio-userns/hook/internal/nsfs"
	"github.com/crio-userns/crio-userns/hook/internal/registry"
	"github.com/crio-userns/crio-userns/internal/policy"
)

// runValidate lints a bundle offline with the hook's own evaluation: every
// check but the live-map one (there is no process) and with the registry
// consulted, not written. Output is for people; the exit status is 1 when a
// check found an error, whatever the mode, so that scripts can gate on it.
// It runs under the same deadline as the hook.
func runValidate(f flags, o Options) int {
	return withDeadline(o,
		func(inv *invocation) int { return validate(f, o, inv) },
		func(inv *invocation, limit time.Duration) int {
			_, _, step, _ := inv.snapshot()
			return validateFail(inv, fmt.Sprintf("timed out after %s while %s", limit, step), fixTimeout)
		},
		func(inv *invocation, reason, stack string) int {
			return validateFail(inv, reason, "report a bug")
		})
}

func validate(f flags, o Options, inv *invocation) int {
	w := o.Stdout
	dir, err := filepath.Abs(f.bundle)
	if err != nil {
		return validateFail(inv, err.Error(), "pass an existing bundle directory")
	}
	inv.setStep("reading config.json")
	data, err := bundle.ReadConfig(dir)
	if err != nil {
		return validateFail(inv, "reading the bundle's config.json: "+err.Error(), "pass an OCI bundle directory (one with config.json)")
	}
	spec, userns, err := bundle.ParseSpec(data)
	if err != nil {
		return validateFail(inv, err.Error(), "fix config.json")
	}
	fmt.Fprintf(w, "bundle:    %s\n", dir)
	target := bundle.TargetOf(spec, nil)
	if target.ContainerID == "" {
		target.ContainerID = filepath.Base(dir)
		if target.Container == "" {
			target.Container = target.ContainerID
		}
	}
	inv.setStep("loading the policy")
	var pol *policy.Policy
	var res *policy.Resolved
	var perr *policyError
	if userns {
		pol, res, perr = loadPolicy(f.policy)
	} else {
		pol, perr = loadPolicyFile(f.policy)
	}
	if pol != nil {
		inv.setPolicy(pol)
	}
	if perr != nil {
		return validateFail(inv, perr.reason, perr.fix)
	}
	policyName := f.policy
	if policyName == "" {
		policyName = policy.DefaultPath + " (or the defaults, when absent)"
	}
	fmt.Fprintf(w, "container: %s\n", target)
	fmt.Fprintf(w, "policy:    %s, mode %s\n", policyName, pol.Mode)
	if res != nil {
		for _, n := range res.Notes {
			fmt.Fprintf(w, "policy:    WARN %s\n", oneLine(n))
		}
	}

	s := newSubject(dir, spec, target, res)
	s.hostID, _ = nsfs.Stat(filepath.Join(f.procRoot, "self", "ns", "user"))
	switch {
	case !userns:
		s.usernsID = s.hostID
		fmt.Fprintf(w, "userns:    none (the host's)\n")
	case s.joined():
		s.usernsID, _ = nsfs.Stat(s.nsPath) // zero when the pin is gone
	}
	inv.setStep("reading the pod's namespaces")
	for _, p := range podNamespaces(spec) {
		if errors.Is(p.Err, fs.ErrNotExist) {
			fmt.Fprintf(w, "note:      the pod's %s namespace %s does not exist (any more); not checked\n", p.Type, p.Path)
			continue
		}
		s.podNS = append(s.podNS, p)
	}
	if userns {
		fmt.Fprintf(w, "userns:    %s\n", describeOrigin(s))
		if s.joined() && (len(spec.Linux.UIDMappings) == 0 || len(spec.Linux.GIDMappings) == 0) {
			fmt.Fprintf(w, "note:      config.json joins %s without listing its maps; checks on them run at container start\n", s.nsPath)
		}
	}

	var regErr error
	reg := &registry.Registry{Dir: pol.RegistryDir, ProcRoot: f.procRoot}
	consult := func([]checks.Finding) *checks.RegistryView {
		inv.setStep("reading the registry")
		if !userns {
			e, err := reg.PodNamespace(target.PodKey())
			if err != nil {
				regErr = err
				return nil
			}
			return &checks.RegistryView{PodElsewhere: registeredPod(e)}
		}
		tx, err := reg.Snapshot()
		if err != nil {
			regErr = err
			return nil
		}
		found, err := tx.Query(s.entry(), res.RootRange)
		if err != nil {
			regErr = err
			return nil
		}
		return registryView(found, tx.Len(), pol.RegistryDir)
	}
	outs := checks.Evaluate(s.input(), inv.setStep, consult)

	var nErr, nWarn int
	for _, oc := range outs {
		label := fmt.Sprintf("check %d %-18s", int(oc.Check.ID), oc.Check.Name)
		switch {
		case oc.Skipped == "no user namespace":
			continue
		case oc.Skipped != "" && oc.Check.Registry && regErr != nil:
			fmt.Fprintf(w, "%s FAIL registry unreadable: %s\n", label, oneLine(regErr.Error()))
			nErr++
			continue
		case oc.Skipped != "":
			fmt.Fprintf(w, "%s skipped: %s\n", label, oc.Skipped)
			continue
		case len(oc.Findings) == 0 && oc.Note != "":
			fmt.Fprintf(w, "%s ok (%s)\n", label, oc.Note)
			continue
		case len(oc.Findings) == 0:
			fmt.Fprintf(w, "%s ok\n", label)
			continue
		}
		for _, fd := range oc.Findings {
			tag := "FAIL"
			if fd.Severity == checks.Warning {
				tag = "WARN"
				nWarn++
			} else {
				nErr++
			}
			fmt.Fprintf(w, "%s %s %s\n", label, tag, oneLine(fd.Reason))
			fmt.Fprintf(w, "%s      fix: %s\n", strings.Repeat(" ", len(label)), oneLine(fd.Fix))
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
		return fmt.Sprintf("%s annotation %q", key, checks.Printable(value))
	case o.Native() && s.pol.Kubelet != nil:
		return "native (hostUsers: false): the kubelet's block, no userns-mode annotation; the kubelet's range is allowed"
	case o.Native():
		return "native (hostUsers: false): the kubelet's block, no userns-mode annotation; the kubelet's range is not allowed (kubelet_subid_owner = \"none\")"
	}
	return "no userns-mode annotation and not the kubelet's one-block shape (CRI-O's own uid_mappings?)"
}

func validateFail(inv *invocation, reason, fix string) int {
	fmt.Fprintf(inv.stderr, "%s validate: %s; %s\n", Prog, oneLine(reason), oneLine(fix))
	return ExitFail
}
