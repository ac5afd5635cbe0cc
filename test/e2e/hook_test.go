package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crio-userns/crio-userns/internal/repo"
	"github.com/crio-userns/crio-userns/test/podrun"
	"github.com/crio-userns/crio-userns/test/scenarios"
)

// installHook builds crio-userns-hook and returns the hooks.d directory
// content for a node: contrib/hooks.d's JSON as shipped, but pointing at the
// built binary and at a policy private to the test (registry on tmpfs, as on
// a node's /run; findings also to a file the test can read).
func installHook(t testing.TB, f flavour) (map[string][]byte, error) {
	dir := e2eDir("hook-" + string(f))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	bin := filepath.Join(dir, "crio-userns-hook")
	build := exec.Command("go", "build", "-o", bin, "./hook/cmd/crio-userns-hook")
	build.Dir = repo.MustRoot()
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building the hook: %v\n%s", err, out)
	}

	policy, err := os.ReadFile(filepath.Join(repo.MustRoot(), "contrib", "crio-userns", "policy.toml"))
	if err != nil {
		return nil, err
	}
	registry := hookRegistry(f)
	if err := os.RemoveAll(registry); err != nil {
		return nil, err
	}
	mode := "enforce"
	if f == withAuditHook {
		mode = "audit"
	}
	policy = setTOML(policy, "mode", mode)
	policy = setTOML(policy, "registry_dir", registry)
	policy = setTOML(policy, "audit_log", hookLog(f))
	_ = os.Remove(hookLog(f))
	policyPath := filepath.Join(dir, "policy.toml")
	if err := os.WriteFile(policyPath, policy, 0o644); err != nil {
		return nil, err
	}

	shipped, err := os.ReadFile(filepath.Join(repo.MustRoot(), "contrib", "hooks.d", "crio-userns-hook.json"))
	if err != nil {
		return nil, err
	}
	var cfg map[string]any
	if err := json.Unmarshal(shipped, &cfg); err != nil {
		return nil, fmt.Errorf("contrib/hooks.d/crio-userns-hook.json: %w", err)
	}
	h := cfg["hook"].(map[string]any)
	h["path"] = bin
	h["args"] = append(h["args"].([]any), "--policy", policyPath)
	if onGuest() {
		// CRI-O's deadline for the hook, not the hook's own: under TCG on a
		// loaded 2-core host the guest runs the hook ten or more times
		// slower than a node does, and 5 s expired (exec over 9p included).
		h["timeout"] = 60
	}
	out, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, err
	}
	return map[string][]byte{"crio-userns-hook.json": out}, nil
}

// hookRegistry is on tmpfs as /run is on a node; downAndCheck removes it.
func hookRegistry(f flavour) string {
	return filepath.Join("/dev/shm", "crio-userns-e2e-"+strings.ReplaceAll(e2eDir(), "/", "_")+"-"+string(f))
}

func hookLog(f flavour) string { return e2eDir("hook-" + string(f) + ".log") }

// setTOML replaces `key = ...` in a flat TOML document.
func setTOML(doc []byte, key, value string) []byte {
	var out bytes.Buffer
	found := false
	for _, line := range strings.SplitAfter(string(doc), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), key+" ") || strings.HasPrefix(strings.TrimSpace(line), key+"=") {
			fmt.Fprintf(&out, "%s = %q\n", key, value)
			found = true
			continue
		}
		out.WriteString(line)
	}
	if !found {
		fmt.Fprintf(&out, "%s = %q\n", key, value)
	}
	return out.Bytes()
}

// hookVerdict is the hook's verdict line for refusing c, a container of
// pod: the first line of its standard error, which runc puts into
// CreateContainer's error. crun discards a hook's standard error (its error
// says only "error executing hook ... (exit code: 1)"), so then the line is
// rebuilt from the refusal record the hook wrote to its audit log.
func hookVerdict(t *testing.T, f flavour, c *podrun.ContainerResult, pod string) string {
	t.Helper()
	if i := strings.Index(c.CreateError, "crio-userns-hook: "); i >= 0 {
		return c.CreateError[i:]
	}
	data, err := os.ReadFile(hookLog(f))
	if err != nil {
		t.Fatalf("CreateContainer error has no verdict and the audit log is unreadable (%v):\n%s", err, c.CreateError)
	}
	for _, line := range strings.Split(string(data), "\n") {
		var r map[string]any
		if json.Unmarshal([]byte(line), &r) != nil || r["pod_name"] != pod || r["action"] != "refused" {
			continue
		}
		return fmt.Sprintf("crio-userns-hook: %s/%s/%s: %s; %s", r["pod_namespace"], r["pod_name"], r["container"], r["reason"], r["fix"])
	}
	t.Fatalf("no verdict for pod %s in CreateContainer's error or in the audit log %s:\n%s", pod, hookLog(f), c.CreateError)
	return ""
}

// The hook passes every pod the field reports run, in enforce mode.
func TestHookPassesFieldReportPods(t *testing.T) {
	n := nodeFor(t, withHook)
	for _, tc := range []struct {
		manifest, scc string
	}{
		{scenarios.Example("000-fedora-map-to-root.yaml"), podrun.SCCRestricted},
		{scenarios.Path("000-usernstest-map-to-root.yaml"), podrun.SCCRestricted},
		{scenarios.Example("004-multiuser-test.yaml"), podrun.SCCAnyUID},
	} {
		res := run(t, n, tc.manifest, podrun.Options{SCC: tc.scc})
		c := onlyContainer(t, res)
		requireRunning(t, res, c)
		assertIdle(t, n)
	}
}

// A mapping that holds host root is refused at CreateContainer with the
// hook's first stderr line in the error, and nothing is left behind.
func TestHookRefusesHostRootMapping(t *testing.T) {
	n := nodeFor(t, withHookNoMinimum)
	res := run(t, n, scenarios.Path("hostile-private-host-root.yaml"), podrun.Options{SCC: podrun.SCCAnyUID})
	c := onlyContainer(t, res)
	if !res.Admitted || res.SandboxError != "" {
		t.Fatalf("want the sandbox up so that the hook decides:\n%s", text(res))
	}
	if c.Created {
		t.Fatalf("a container whose user namespace maps host root was created:\n%s", text(res))
	}
	verdict := hookVerdict(t, withHookNoMinimum, c, res.Pod)
	for _, want := range []string{"crio-userns-hook: test/hostile-host-root/usernstest:", "host"} {
		if !strings.Contains(verdict, want) {
			t.Errorf("the hook's verdict does not contain %q:\n%s", want, verdict)
		}
	}
	assertIdle(t, n)
}

// Audit mode lets the same pod run and records why it would have refused it.
func TestHookAuditModeLogs(t *testing.T) {
	n := nodeFor(t, withAuditHook)
	res := run(t, n, scenarios.Path("hostile-private-host-root.yaml"), podrun.Options{SCC: podrun.SCCAnyUID})
	c := onlyContainer(t, res)
	requireRunning(t, res, c)
	log, err := os.ReadFile(hookLog(withAuditHook))
	if err != nil {
		t.Fatalf("audit mode wrote no findings: %v", err)
	}
	if !strings.Contains(string(log), "hostile-host-root") {
		t.Errorf("audit log does not name the pod:\n%s", log)
	}
	assertIdle(t, n)
}

// A native Kubernetes user-namespaced pod (hostUsers: false) gets its block
// from the kubelet's range, not from the "containers" subid entries, and
// carries no userns-mode annotation: the hook lets it run, as it must with
// the default policy on any node with the kubelet's default range.
func TestHookPassesNativeUserns(t *testing.T) {
	n := nodeFor(t, withHook)
	res := run(t, n, scenarios.Path("native-userns.yaml"), podrun.Options{SCC: podrun.SCCAnyUID})
	c := onlyContainer(t, res)
	requireRunning(t, res, c)
	base, ok := singleBlock(c, podrun.UsernsBlockSize)
	if !ok || base < podrun.DefaultUsernsRange.First || base%podrun.UsernsBlockSize != 0 ||
		mapString(c.GIDMapSeen()) != mapString(c.UIDMapSeen()) {
		t.Fatalf("uid_map %s, gid_map %s: want the kubelet's one block 0 BASE 65536 in both", mapString(c.UIDMapSeen()), mapString(c.GIDMapSeen()))
	}
	// The hook did check it: a container that passes is registered for
	// checks 7 and 9, under its pod and with its maps.
	entries, err := n.Glob(context.Background(), filepath.Join(hookRegistry(withHook), "ns", "*"))
	if err != nil {
		t.Fatal(err)
	}
	var reg []byte
	for _, e := range entries {
		data, err := n.ReadFile(context.Background(), e)
		if err != nil {
			t.Fatal(err)
		}
		reg = append(reg, data...)
	}
	wantEntry := fmt.Sprintf("\t%s\tnative-userns\nusernstest\t", res.Namespace)
	wantMap := fmt.Sprintf("0:%d:65536", base)
	if !strings.Contains(string(reg), wantEntry) || !strings.Contains(string(reg), wantMap) {
		t.Errorf("registry lacks the pod (%q, %q):\n%s", wantEntry, wantMap, reg)
	}
	if log, err := os.ReadFile(hookLog(withHook)); err == nil && strings.Contains(string(log), `"pod_name":"native-userns"`) {
		t.Errorf("the hook logged findings for the native pod:\n%s", log)
	}
	assertIdle(t, n)
}

// Issue 5: with the hook installed (enforce mode, default policy) every
// earlier scenario behaves as on patched CRI-O without it (the expectations
// of baseline_test.go and maptoroot_test.go), and the one that fails by
// design still fails, now with the hook's reason instead of runc's.
func TestHookRunsEarlierScenarios(t *testing.T) {
	n := nodeFor(t, withHook)
	projectRootMapped := func(t *testing.T, c *podrun.ContainerResult) {
		t.Helper()
		if !c.HasUIDMapping(0, projectRoot, 1) {
			t.Errorf("%s: uid_map %s lacks [0 %d 1]", c.Name, mapString(c.UIDMapSeen()), projectRoot)
		}
	}
	oneBlock := func(t *testing.T, c *podrun.ContainerResult) {
		t.Helper()
		if _, ok := singleBlock(c, 65536); !ok {
			t.Errorf("uid_map %s, want one extent 0 BASE 65536 with BASE != 0", mapString(c.UIDMapSeen()))
		}
	}
	for _, tc := range []struct {
		name     string
		manifest string
		opts     podrun.Options
		check    func(t *testing.T, res *podrun.Result)
	}{
		{"fedora map-to-root", scenarios.Example("000-fedora-map-to-root.yaml"), podrun.Options{SCC: podrun.SCCRestricted},
			func(t *testing.T, res *podrun.Result) {
				c := onlyContainer(t, res)
				requireRunning(t, res, c)
				projectRootMapped(t, c)
			}},
		{"usernstest map-to-root", scenarios.Path("000-usernstest-map-to-root.yaml"), podrun.Options{SCC: podrun.SCCRestricted},
			func(t *testing.T, res *podrun.Result) {
				c := onlyContainer(t, res)
				requireRunning(t, res, c)
				if !upstreamMapToRoot(c, projectRoot) {
					t.Errorf("uid_map %s, want upstream's [1 BASE 65535] [0 %d 1]", mapString(c.UIDMapSeen()), projectRoot)
				}
				// The shipped drop-in reinstates SETUID/SETGID (patch 0006).
				if got := summary(t, c); got != allSwitched {
					t.Errorf("%q, want %q", got, allSwitched)
				}
			}},
		{"fedora map-to-root without a pod runAsUser", scenarios.Example("000-fedora-map-to-root-no-runasuser.yaml"), podrun.Options{SCC: podrun.SCCRestricted},
			func(t *testing.T, res *podrun.Result) {
				c := onlyContainer(t, res)
				requireRunning(t, res, c)
				projectRootMapped(t, c)
				if len(c.Processes) == 0 || c.Processes[0].HostUID != projectRoot {
					t.Errorf("host uid of the container's init: %+v, want %d", c.Processes, projectRoot)
				}
			}},
		{"usernstest map-to-root without a pod runAsUser", scenarios.Path("000-usernstest-no-runasuser.yaml"), podrun.Options{SCC: podrun.SCCRestricted},
			func(t *testing.T, res *podrun.Result) {
				c := onlyContainer(t, res)
				requireRunning(t, res, c)
				projectRootMapped(t, c)
				summary(t, c)
			}},
		{"init and two containers share one namespace", scenarios.Path("000-init-and-two-containers.yaml"), podrun.Options{SCC: podrun.SCCRestricted},
			func(t *testing.T, res *podrun.Result) {
				if !res.OK() || len(res.Containers) != 3 {
					t.Fatalf("pod did not run:\n%s", text(res))
				}
				if init := res.Containers[0]; !strings.Contains(init.Log, rootLine) {
					t.Errorf("init container saw uid_map %q, want a line %q", init.Log, rootLine)
				}
				first, second := res.Containers[1], res.Containers[2]
				projectRootMapped(t, first)
				projectRootMapped(t, second)
				if mapString(first.UIDMap) != mapString(second.UIDMap) {
					t.Errorf("containers of one pod have different uid_maps: %s vs %s", mapString(first.UIDMap), mapString(second.UIDMap))
				}
			}},
		{"second runAsUser fails clearly, from CRI-O", scenarios.Path("000-two-runasusers.yaml"), podrun.Options{SCC: podrun.SCCRestricted},
			func(t *testing.T, res *podrun.Result) {
				if len(res.Containers) != 2 {
					t.Fatalf("want 2 container results:\n%s", text(res))
				}
				first, second := res.Containers[0], res.Containers[1]
				if !first.Started || first.State != "running" || !first.HasUIDMapping(0, projectRoot, 1) {
					t.Errorf("first container: started=%v state=%s uid_map %s", first.Started, first.State, mapString(first.UIDMap))
				}
				if second.Created {
					t.Fatalf("second container with an unmappable runAsUser was created")
				}
				for _, want := range []string{`pod "test/two-runasusers"`, `"second"`, "1000650005", "spec.securityContext.runAsUser"} {
					if !strings.Contains(second.CreateError, want) {
						t.Errorf("CreateContainer error lacks %q:\n%s", want, second.CreateError)
					}
				}
			}},
		{"root of the pod owns its network namespace", scenarios.Path("000-bind-port-80.yaml"),
			podrun.Options{SCC: podrun.SCCRestricted, Ready: "^received: ", Settle: 15 * time.Second},
			func(t *testing.T, res *podrun.Result) {
				c := onlyContainer(t, res)
				requireRunning(t, res, c)
				if !strings.Contains(c.Log, "received: over-port-80") {
					t.Errorf("root of the pod could not serve on port 80; log:\n%s", c.Log)
				}
			}},
		{"field report 004 with anyuid", scenarios.Example("004-multiuser-test.yaml"), podrun.Options{SCC: podrun.SCCAnyUID},
			func(t *testing.T, res *podrun.Result) {
				c := onlyContainer(t, res)
				requireRunning(t, res, c)
				oneBlock(t, c)
				if got := summary(t, c); got != allSwitched {
					t.Errorf("%q, want %q", got, allSwitched)
				}
			}},
		{"usernstest hold with anyuid", scenarios.Path("004-usernstest-hold.yaml"), podrun.Options{SCC: podrun.SCCAnyUID},
			func(t *testing.T, res *podrun.Result) {
				c := onlyContainer(t, res)
				requireRunning(t, res, c)
				oneBlock(t, c)
				summary(t, c)
			}},
		// Field report 000's first attempt fails on pristine and patched
		// CRI-O alike (runc: "cannot set uid to unmapped user in user
		// namespace"); the hook's check 4 now refuses it first, with the fix.
		{"auto without map-to-root is refused by the hook with the fix", scenarios.Example("000-fedora-auto.yaml"), podrun.Options{SCC: podrun.SCCRestricted},
			func(t *testing.T, res *podrun.Result) {
				c := onlyContainer(t, res)
				if !res.Admitted || res.SandboxError != "" || c.Created {
					t.Fatalf("want admission, a sandbox and a refused container:\n%s", text(res))
				}
				verdict := hookVerdict(t, withHook, c, res.Pod)
				for _, want := range []string{
					"crio-userns-hook: test/fedora/fedora: process user UID 1000650000 is not mapped in the uid_map",
					"set the pod-level securityContext.runAsUser to 1000650000",
				} {
					if !strings.Contains(verdict, want) {
						t.Errorf("the hook's verdict lacks %q:\n%s", want, verdict)
					}
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, n, tc.manifest, tc.opts)
			tc.check(t, res)
			for _, c := range res.Containers {
				if strings.Contains(c.CreateError, "crio-userns-hook") && !strings.Contains(tc.name, "refused by the hook") {
					t.Errorf("%s: the hook refused it:\n%s", c.Name, c.CreateError)
				}
			}
			assertIdle(t, n)
		})
	}
}
