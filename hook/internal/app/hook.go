package app

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crio-userns/crio-userns/hook/internal/bundle"
	"github.com/crio-userns/crio-userns/hook/internal/checks"
	"github.com/crio-userns/crio-userns/hook/internal/nsfs"
	"github.com/crio-userns/crio-userns/hook/internal/registry"
	"github.com/crio-userns/crio-userns/internal/idmap"
	"github.com/crio-userns/crio-userns/internal/policy"
	"github.com/crio-userns/crio-userns/internal/safefile"
)

// failure is an error of the hook itself, as opposed to a finding about the
// container. It always refuses the container, whatever the mode: a hook
// that cannot judge a container must not let it through (fail closed).
type failure struct {
	reason, fix string
	stack       string // for panics
}

// outcome is what one hook run decided.
type outcome struct {
	target   bundle.Target
	pol      *policy.Policy // nil until loaded
	findings []checks.Finding
	// notes are warnings about the configuration (skipped subid lines).
	notes []string
	// late is a failure after enforce-mode findings had already refused
	// the container: it is logged after them and does not replace them.
	late *failure
	fail *failure
}

const fixTimeout = "find what blocks the hook (registry lock, /proc, the rootfs, the audit log) or raise timeout in the policy, below the hooks.d timeout"

// runHook runs one hook invocation under its deadline, the report
// included: whatever blocks (a FIFO, a held lock, a stalled /proc or audit
// log), the verdict comes out in time, first on stderr.
func runHook(f flags, o Options) int {
	return withDeadline(o,
		func(inv *invocation) int { return report(hookRun(f, o, inv), f, inv) },
		func(inv *invocation, limit time.Duration) int {
			t, pol, step, code := inv.snapshot()
			if code >= 0 {
				// The verdict is out; only a record was stuck (the audit
				// log, syslog). Say so on stderr and keep the verdict.
				fmt.Fprintf(inv.stderr, "%s: %s: timed out after %s while %s, after the verdict; %s\n", Prog, t, limit, step, fixTimeout)
				return code
			}
			return report(outcome{target: t, pol: pol, fail: &failure{
				reason: fmt.Sprintf("timed out after %s while %s", limit, step),
				fix:    fixTimeout,
			}}, flags{logFormat: f.logFormat}, inv)
		},
		func(inv *invocation, reason, stack string) int {
			t, pol, _, code := inv.snapshot()
			if code >= 0 {
				fmt.Fprintf(inv.stderr, "%s: %s: %s, after the verdict\n", Prog, t, oneLine(reason))
				return code
			}
			return report(outcome{target: t, pol: pol, fail: &failure{
				reason: reason,
				fix:    "report a bug with the logged stack; the hook refuses containers it cannot check",
				stack:  stack,
			}}, flags{logFormat: f.logFormat}, inv)
		})
}

func hookRun(f flags, o Options, inv *invocation) outcome {
	fail := func(reason, fix string) outcome {
		t, pol, _, _ := inv.snapshot()
		return outcome{target: t, pol: pol, fail: &failure{reason: reason, fix: fix}}
	}

	inv.setStep("reading the OCI state on stdin")
	st, err := bundle.ReadState(o.Stdin)
	if err != nil {
		return fail("OCI state on stdin: "+err.Error(),
			"run the hook from an OCI runtime's createRuntime stage, which writes the container state to stdin")
	}
	inv.setTarget(bundle.TargetOf(nil, st))

	inv.setStep("reading config.json")
	data, err := bundle.ReadConfig(st.Bundle)
	if err != nil {
		return fail("reading the bundle's config.json: "+err.Error(),
			"check the bundle path the runtime passed; the hook refuses containers it cannot read")
	}
	spec, declared, err := bundle.ParseSpec(data)
	if err != nil {
		return fail(err.Error(), "the runtime passed a damaged config.json; recreate the container")
	}
	target := bundle.TargetOf(spec, st)
	inv.setTarget(target)
	if st.Pid <= 0 {
		return fail("OCI state has no container pid",
			"install the hook for the createRuntime stage, where the container process exists")
	}

	// Whether the container has a user namespace is the kernel's to say,
	// not config.json's: its process's namespace against the hook's own.
	inv.setStep("identifying the container's user namespace")
	usernsID, err := nsfs.Stat(filepath.Join(f.procRoot, strconv.Itoa(st.Pid), "ns", "user"))
	if err != nil {
		return fail(fmt.Sprintf("identifying the user namespace of container process %d: %v", st.Pid, err),
			"the container process is gone; retry")
	}
	hostID, err := nsfs.Stat(filepath.Join(f.procRoot, "self", "ns", "user"))
	if err != nil {
		return fail("identifying the hook's own user namespace: "+err.Error(), "check that /proc is mounted")
	}
	s := newSubject(st.Bundle, spec, target, nil)
	s.pid, s.usernsID, s.hostID = st.Pid, usernsID, hostID
	s.undeclared = !declared && usernsID != hostID
	inv.setStep("reading the pod's namespaces")
	s.podNS = podNamespaces(spec)
	if !declared && !s.undeclared {
		return hostUsernsRun(f, inv, s)
	}

	inv.setStep("loading the policy")
	pol, res, perr := loadPolicy(f.policy)
	if pol != nil {
		inv.setPolicy(pol)
	}
	if perr != nil {
		return fail(perr.reason, perr.fix)
	}
	s.pol = res

	inv.setStep("reading the live maps")
	live := &checks.Live{PID: st.Pid}
	var last liveText
	for _, lm := range []struct {
		kind checks.Kind
		dst  *[]rspec.LinuxIDMapping
	}{{checks.UID, &live.UIDs}, {checks.GID, &live.GIDs}} {
		if *lm.dst, err = readLiveMap(f.procRoot, st.Pid, lm.kind.Map, &last); err != nil {
			return fail(fmt.Sprintf("reading the live %s of pid %d: %v", lm.kind.Map, st.Pid, err),
				"the container process is gone or its map is unreadable; retry, and check the OCI runtime if it persists")
		}
	}
	s.live = live

	out := outcome{target: target, pol: pol, notes: res.Notes}
	audit := pol.Mode == policy.Audit
	reg := &registry.Registry{Dir: pol.RegistryDir, ProcRoot: f.procRoot}
	var tx *registry.Txn
	var self *registry.Entry
	var found *registry.Result
	consult := func([]checks.Finding) *checks.RegistryView {
		inv.setStep("checking other pods' user namespaces")
		start, err := registry.StartTime(f.procRoot, st.Pid)
		if err != nil {
			out.late = &failure{reason: fmt.Sprintf("identifying container process %d: %v", st.Pid, err),
				fix: "the container process is gone; retry"}
			return nil
		}
		self = s.entry()
		self.StartTime = start
		fixRegistry := "make registry_dir writable for root; if the registry is damaged, remove it (see REGISTRY in crio-userns-hook(8))"
		if tx, err = reg.Begin(); err != nil {
			out.late = &failure{reason: "registry: " + err.Error(), fix: fixRegistry}
			return nil
		}
		if found, err = tx.Query(self, res.RootRange); err != nil {
			tx.Close()
			tx = nil
			out.late = &failure{reason: "registry: " + err.Error(), fix: fixRegistry}
			return nil
		}
		return registryView(found, tx.Stats.Entries, pol.RegistryDir)
	}
	out.findings = checks.Findings(checks.Evaluate(s.input(), inv.setStep, consult))
	if tx != nil {
		inv.setStep("recording the user namespace")
		var err error
		if audit || !checks.HasErrors(out.findings) {
			err = tx.Record(self, found)
		}
		if cerr := tx.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			out.late = &failure{reason: "registry: " + err.Error(),
				fix: "make registry_dir writable for root (see REGISTRY in crio-userns-hook(8))"}
		}
	}
	// A failure after the checks is the verdict only when no finding
	// already refuses the container: the finding is the reason to give.
	if out.late != nil && (audit || !checks.HasErrors(out.findings)) {
		out.fail, out.late = out.late, nil
	}
	return out
}

// hostUsernsRun judges a container in the host's user namespace: only the
// checks that apply to it (a writable cgroup file system; a pod whose user
// namespace it should be in). The policy is read for its mode and registry;
// one that cannot be read does not refuse such a container, whose judging
// needs neither (a broken policy must not stop the node's host-network
// system pods), but it is logged, and the checks' findings refuse in
// enforce mode then.
func hostUsernsRun(f flags, inv *invocation, s *subject) outcome {
	out := outcome{target: s.target}
	inv.setStep("loading the policy")
	pol, perr := loadPolicyFile(f.policy)
	if pol != nil {
		inv.setPolicy(pol)
		out.pol = pol
	}
	consult := func([]checks.Finding) *checks.RegistryView {
		view := &checks.RegistryView{}
		if pol == nil {
			return view
		}
		inv.setStep("looking the pod up in the registry")
		reg := &registry.Registry{Dir: pol.RegistryDir, ProcRoot: f.procRoot}
		e, err := reg.PodNamespace(s.target.PodKey())
		if err != nil {
			out.notes = append(out.notes, "registry not consulted for the pod's user namespace: "+err.Error())
			return view
		}
		view.PodElsewhere = registeredPod(e)
		return view
	}
	out.findings = checks.Findings(checks.Evaluate(s.input(), inv.setStep, consult))
	if perr != nil && len(out.findings) > 0 {
		out.notes = append(out.notes, "policy unusable, enforce mode assumed: "+perr.reason)
	}
	return out
}

// podNamespaces reads which user namespace owns each pod namespace the
// container joins (network, IPC, UTS): the pod's user namespace, when it
// has one.
func podNamespaces(spec *rspec.Spec) []checks.PodNamespace {
	var out []checks.PodNamespace
	for _, ns := range bundle.NamespacePaths(spec, rspec.NetworkNamespace, rspec.IPCNamespace, rspec.UTSNamespace) {
		owner, err := nsfs.Owner(ns.Path)
		out = append(out, checks.PodNamespace{Type: string(ns.Type), Path: ns.Path, Owner: owner, Err: err})
	}
	return out
}

func registryView(res *registry.Result, entries int, dir string) *checks.RegistryView {
	return &checks.RegistryView{
		Overlaps: overlaps(res.Conflicts), Entries: entries, Dir: dir,
		PodElsewhere: registeredPod(res.PodElsewhere), OtherPod: registeredPod(res.OtherPod),
	}
}

func registeredPod(e *registry.Entry) *checks.RegisteredPod {
	if e == nil {
		return nil
	}
	return &checks.RegisteredPod{Pod: dashJoin(e.Namespace, e.Pod), Container: dashOr(e.Container), NS: e.NS}
}

// policyError is why the policy cannot be used, with the fix to give.
type policyError struct{ reason, fix string }

const refusedUntilFixed = "user-namespaced containers are refused until then"

// loadPolicy reads and resolves the policy and checks that its audit log
// is a file the hook may append to. The policy comes back as soon as it is
// read, for its timeout and mode, even when resolving it fails.
func loadPolicy(path string) (*policy.Policy, *policy.Resolved, *policyError) {
	pol, perr := loadPolicyFile(path)
	if perr != nil {
		return pol, nil, perr
	}
	res, err := pol.Resolve()
	if err != nil {
		return pol, nil, untrustedOr(fmt.Errorf("policy: %w", err), "fix the file; "+refusedUntilFixed)
	}
	return pol, res, nil
}

// loadPolicyFile reads the policy without resolving it (no subid file is
// read) and checks its audit log.
func loadPolicyFile(path string) (*policy.Policy, *policyError) {
	pol, err := policy.Load(path)
	if err != nil {
		return nil, untrustedOr(err, "fix the policy file (see crio-userns-hook(8)); "+refusedUntilFixed)
	}
	if err := checkAuditLog(pol.AuditLog); err != nil {
		return &pol, untrustedOr(err, "point audit_log at a regular file owned by root, or set it to \"syslog\" or \"none\"; "+refusedUntilFixed)
	}
	return &pol, nil
}

// untrustedOr gives an untrusted file's fix, or fallback for other errors.
func untrustedOr(err error, fallback string) *policyError {
	var ue *safefile.UntrustedError
	if errors.As(err, &ue) {
		return &policyError{reason: err.Error(), fix: ue.Fix() + "; " + refusedUntilFixed}
	}
	return &policyError{reason: err.Error(), fix: fallback}
}

// checkAuditLog refuses an audit_log path the hook must not append to
// (a FIFO, a device, a symbolic link, a file others can write), on every
// run rather than only when there is something to log, so that a bad one
// is found at once and never stalls or misleads a report.
func checkAuditLog(path string) error {
	if !filepath.IsAbs(path) {
		return nil // "syslog" or "none"
	}
	if err := safefile.CheckTrusted(path); err != nil {
		return fmt.Errorf("audit_log %w", err)
	}
	return nil
}

// liveText is a live map's text and what it parsed to.
type liveText struct {
	text []byte
	maps []rspec.LinuxIDMapping
}

// readLiveMap reads /proc/PID/uid_map or gid_map. The two are the same as
// a rule, up to 340 lines each: a map whose text is last's is last's map
// again (a copy: callers own their maps), not parsed a second time. The
// first map read fills last.
func readLiveMap(procRoot string, pid int, name string, last *liveText) ([]rspec.LinuxIDMapping, error) {
	var maps []rspec.LinuxIDMapping
	err := safefile.ReadWith(filepath.Join(procRoot, strconv.Itoa(pid), name), safefile.Options{Limit: 64 << 10}, func(data []byte) (err error) {
		if last.maps != nil {
			if bytes.Equal(data, last.text) {
				maps = slices.Clone(last.maps)
				return nil
			}
			maps, err = idmap.ParseProcMapBytes(data)
			return err
		}
		if maps, err = idmap.ParseProcMapBytes(data); err == nil && len(maps) > 0 {
			*last = liveText{text: bytes.Clone(data), maps: maps}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(maps) == 0 {
		return nil, fmt.Errorf("empty: the namespace has no %s yet", name)
	}
	return maps, nil
}
