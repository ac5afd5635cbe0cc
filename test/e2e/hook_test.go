package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

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
	n := nodeFor(t, withHook)
	res := run(t, n, scenarios.Path("hostile-private-host-root.yaml"), podrun.Options{SCC: podrun.SCCAnyUID})
	c := onlyContainer(t, res)
	if !res.Admitted || res.SandboxError != "" {
		t.Fatalf("want the sandbox up so that the hook decides:\n%s", text(res))
	}
	if c.Created {
		t.Fatalf("a container whose user namespace maps host root was created:\n%s", text(res))
	}
	for _, want := range []string{"crio-userns-hook: test/hostile-host-root/usernstest:", "host"} {
		if !strings.Contains(c.CreateError, want) {
			t.Errorf("CreateContainer error does not contain %q:\n%s", want, c.CreateError)
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
