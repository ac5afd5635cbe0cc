package app

import (
	"fmt"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crio-userns/crio-userns/hook/internal/bundle"
	"github.com/crio-userns/crio-userns/hook/internal/checks"
	"github.com/crio-userns/crio-userns/hook/internal/registry"
	"github.com/crio-userns/crio-userns/internal/idmap"
	"github.com/crio-userns/crio-userns/internal/policy"
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
	fail     *failure
}

// progress is what the deadline watcher needs to know about a run still in
// flight, to say who and where when it gives up.
type progress struct {
	mu       sync.Mutex
	target   bundle.Target
	pol      *policy.Policy
	step     string
	deadline chan time.Duration
}

func (p *progress) setTarget(t bundle.Target) { p.mu.Lock(); p.target = t; p.mu.Unlock() }
func (p *progress) setStep(s string)          { p.mu.Lock(); p.step = s; p.mu.Unlock() }
func (p *progress) setPolicy(pol *policy.Policy) {
	p.mu.Lock()
	p.pol = pol
	p.mu.Unlock()
	p.deadline <- pol.Timeout.Duration
}

func (p *progress) snapshot() (bundle.Target, *policy.Policy, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.target, p.pol, p.step
}

// testPanicAt makes the run panic at the named step (tests of the recover
// path); nil in production.
var testPanicAt func(step string)

// runHook runs one hook invocation under the deadline: the default
// timeout until the policy is read, the policy's after. When it expires the
// verdict is reported and the process exits, abandoning the stuck work
// (a blocked open or flock cannot be cancelled from Go, but exit ends it).
func runHook(f flags, o Options) int {
	start := time.Now()
	p := &progress{deadline: make(chan time.Duration, 1)}
	done := make(chan outcome, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				t, pol, step := p.snapshot()
				done <- outcome{target: t, pol: pol, fail: &failure{
					reason: fmt.Sprintf("internal error while %s: panic: %v", step, r),
					fix:    "report a bug with the logged stack; the hook refuses containers it cannot check",
					stack:  string(debug.Stack()),
				}}
			}
		}()
		done <- hookRun(f, o, p)
	}()
	limit := policy.DefaultTimeout
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		select {
		case out := <-done:
			return report(out, f, o)
		case limit = <-p.deadline:
			timer.Reset(time.Until(start.Add(limit)))
		case <-timer.C:
			t, pol, step := p.snapshot()
			return report(outcome{target: t, pol: pol, fail: &failure{
				reason: fmt.Sprintf("timed out after %s while %s", limit, step),
				fix:    "find what blocks the hook (registry lock, /proc, the rootfs) or raise timeout in the policy, below the hooks.d timeout",
			}}, f, o)
		}
	}
}

func hookRun(f flags, o Options, p *progress) outcome {
	fail := func(reason, fix string) outcome {
		t, pol, _ := p.snapshot()
		return outcome{target: t, pol: pol, fail: &failure{reason: reason, fix: fix}}
	}
	step := func(s string) {
		p.setStep(s)
		if testPanicAt != nil {
			testPanicAt(s)
		}
	}

	step("reading the OCI state on stdin")
	st, err := bundle.ReadState(o.Stdin)
	if err != nil {
		return fail("OCI state on stdin: "+err.Error(),
			"run the hook from an OCI runtime's createRuntime stage, which writes the container state to stdin")
	}
	p.setTarget(bundle.TargetOf(nil, st))

	step("reading config.json")
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
	p.setTarget(target)

	step("loading the policy")
	pol, err := policy.Load(f.policy)
	if err != nil {
		return fail(err.Error(), "fix the policy file (see crio-userns-hook(8)); user-namespaced containers are refused until then")
	}
	p.setPolicy(&pol)
	res, err := pol.Resolve()
	if err != nil {
		return fail("policy: "+err.Error(), "fix the file; user-namespaced containers are refused until then")
	}
	if st.Pid <= 0 {
		return fail("OCI state has no container pid",
			"install the hook for the createRuntime stage, where the container process exists")
	}
	nsPath, _ := bundle.UserNamespacePath(spec)
	s := &subject{dir: st.Bundle, spec: spec, target: target, pol: res, nsPath: nsPath, haveLive: true, pid: st.Pid}

	step("reading the live maps")
	for _, lm := range []struct {
		kind checks.Kind
		dst  *[]rspec.LinuxIDMapping
	}{{checks.UID, &s.liveUID}, {checks.GID, &s.liveGID}} {
		if *lm.dst, err = readLiveMap(f.procRoot, st.Pid, lm.kind.Map); err != nil {
			return fail(fmt.Sprintf("reading the live %s of pid %d: %v", lm.kind.Map, st.Pid, err),
				"the container process is gone or its map is unreadable; retry, and check the OCI runtime if it persists")
		}
	}

	findings := s.checksOneToSix(step)

	step("checking other pods' user namespaces")
	id, err := registry.Identify(f.procRoot, st.Pid)
	if err != nil {
		return fail(fmt.Sprintf("identifying container process %d: %v", st.Pid, err),
			"the container process is gone; retry")
	}
	e := s.entry()
	e.StartTime, e.NSDev, e.NSIno = id.StartTime, id.NSDev, id.NSIno
	audit := pol.Mode == policy.Audit
	reg := &registry.Registry{Dir: pol.RegistryDir, ProcRoot: f.procRoot}
	conflicts, _, err := reg.CheckAndRecord(e, res.RootRange, audit || !hasErrors(findings), audit)
	if err != nil {
		return fail("registry: "+err.Error(),
			"make registry_dir writable for root; if the registry file is damaged, remove it (see REGISTRY in crio-userns-hook(8))")
	}
	findings = append(findings, checks.CheckCrossPod(overlaps(conflicts))...)
	return outcome{target: target, pol: &pol, findings: findings}
}

func hasErrors(fs []checks.Finding) bool {
	for _, f := range fs {
		if f.Severity == checks.Error {
			return true
		}
	}
	return false
}

// readLiveMap reads /proc/PID/uid_map or gid_map.
func readLiveMap(procRoot string, pid int, name string) ([]rspec.LinuxIDMapping, error) {
	data, err := readSmall(filepath.Join(procRoot, strconv.Itoa(pid), name), 64<<10)
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
