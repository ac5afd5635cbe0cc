package app

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crio-userns/crio-userns/hook/internal/bundle"
	"github.com/crio-userns/crio-userns/hook/internal/checks"
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
	spec, userns, err := bundle.ParseSpec(data)
	if err != nil {
		return fail(err.Error(), "the runtime passed a damaged config.json; recreate the container")
	}
	if !userns {
		return outcome{} // the fast path: nothing to check, policy not even read
	}
	target := bundle.TargetOf(spec, st)
	inv.setTarget(target)

	inv.setStep("loading the policy")
	pol, res, perr := loadPolicy(f.policy)
	if pol != nil {
		inv.setPolicy(pol)
	}
	if perr != nil {
		return fail(perr.reason, perr.fix)
	}
	if st.Pid <= 0 {
		return fail("OCI state has no container pid",
			"install the hook for the createRuntime stage, where the container process exists")
	}
	s := newSubject(st.Bundle, spec, target, res)
	s.pid = st.Pid

	inv.setStep("reading the live maps")
	live := &checks.Live{PID: st.Pid}
	var err2 error
	for _, lm := range []struct {
		kind checks.Kind
		dst  *[]rspec.LinuxIDMapping
	}{{checks.UID, &live.UIDs}, {checks.GID, &live.GIDs}} {
		if *lm.dst, err2 = readLiveMap(f.procRoot, st.Pid, lm.kind.Map); err2 != nil {
			return fail(fmt.Sprintf("reading the live %s of pid %d: %v", lm.kind.Map, st.Pid, err2),
				"the container process is gone or its map is unreadable; retry, and check the OCI runtime if it persists")
		}
	}
	s.live = live

	out := outcome{target: target, pol: pol, notes: res.Notes}
	audit := pol.Mode == policy.Audit
	reg := &registry.Registry{Dir: pol.RegistryDir, ProcRoot: f.procRoot}
	consult := func(sofar []checks.Finding) *checks.RegistryView {
		inv.setStep("checking other pods' user namespaces")
		id, err := registry.Identify(f.procRoot, st.Pid)
		if err != nil {
			out.late = &failure{reason: fmt.Sprintf("identifying container process %d: %v", st.Pid, err),
				fix: "the container process is gone; retry"}
			return nil
		}
		e := s.entry()
		e.StartTime, e.NSDev, e.NSIno = id.StartTime, id.NSDev, id.NSIno
		conflicts, stats, err := reg.CheckAndRecord(e, res.RootRange, audit || !checks.HasErrors(sofar), audit)
		if err != nil {
			out.late = &failure{reason: "registry: " + err.Error(),
				fix: "make registry_dir writable for root; if the registry is damaged, remove it (see REGISTRY in crio-userns-hook(8))"}
			return nil
		}
		return &checks.RegistryView{Overlaps: overlaps(conflicts), Entries: stats.Entries, Dir: pol.RegistryDir}
	}
	out.findings = checks.Findings(checks.Evaluate(s.input(), inv.setStep, consult))
	// A failure after the checks is the verdict only when no finding
	// already refuses the container: the finding is the reason to give.
	if out.late != nil && (audit || !checks.HasErrors(out.findings)) {
		out.fail, out.late = out.late, nil
	}
	return out
}

// policyError is why the policy cannot be used, with the fix to give.
type policyError struct{ reason, fix string }

const refusedUntilFixed = "user-namespaced containers are refused until then"

// loadPolicy reads and resolves the policy and checks that its audit log
// is a file the hook may append to. The policy comes back as soon as it is
// read, for its timeout and mode, even when resolving it fails.
func loadPolicy(path string) (*policy.Policy, *policy.Resolved, *policyError) {
	untrusted := func(err error, fallback string) *policyError {
		var ue *safefile.UntrustedError
		if errors.As(err, &ue) {
			return &policyError{reason: err.Error(), fix: ue.Fix() + "; " + refusedUntilFixed}
		}
		return &policyError{reason: err.Error(), fix: fallback}
	}
	pol, err := policy.Load(path)
	if err != nil {
		return nil, nil, untrusted(err, "fix the policy file (see crio-userns-hook(8)); "+refusedUntilFixed)
	}
	if err := checkAuditLog(pol.AuditLog); err != nil {
		return &pol, nil, untrusted(err, "point audit_log at a regular file owned by root, or set it to \"syslog\" or \"none\"; "+refusedUntilFixed)
	}
	res, err := pol.Resolve()
	if err != nil {
		return &pol, nil, untrusted(fmt.Errorf("policy: %w", err), "fix the file; "+refusedUntilFixed)
	}
	return &pol, res, nil
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

// readLiveMap reads /proc/PID/uid_map or gid_map.
func readLiveMap(procRoot string, pid int, name string) ([]rspec.LinuxIDMapping, error) {
	data, err := safefile.Read(filepath.Join(procRoot, strconv.Itoa(pid), name), safefile.Options{Limit: 64 << 10})
	if err != nil {
		return nil, err
	}
	maps, err := idmap.ParseProcMap(bytesReader(data))
	if err != nil {
		return nil, err
	}
	if len(maps) == 0 {
		return nil, fmt.Errorf("empty: the namespace has no %s yet", name)
	}
	return maps, nil
}
