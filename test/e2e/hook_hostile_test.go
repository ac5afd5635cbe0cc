package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/crio-userns/crio-userns/test/podrun"
	"github.com/crio-userns/crio-userns/test/scenarios"
)

// withHookPolicy rewrites the running hook node's policy (the hook reads it
// on every invocation) and restores it when t ends.
func withHookPolicy(t *testing.T, f flavour, edit func([]byte) []byte) {
	t.Helper()
	p := filepath.Join(e2eDir("hook-"+string(f)), "policy.toml")
	orig, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, edit(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.WriteFile(p, orig, 0o644); err != nil {
			t.Error(err)
		}
	})
}

// An audit_log that is a FIFO nobody reads used to hang the hook until the
// runtime killed it, so CreateContainer failed with no reason (in audit mode
// too). On a real node the hook now refuses user-namespaced containers at
// once with the file and the fix, in both modes, and containers without a
// user namespace still run.
func TestHookAuditLogFIFO(t *testing.T) {
	// Without contrib's minimum_mappable_uid/gid, which would refuse the
	// host-root pod before the hook sees it.
	n := nodeFor(t, withHookNoMinimum)
	fifo := e2eDir("hook-audit.fifo")
	_ = os.Remove(fifo)
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(fifo) })
	for _, tc := range []struct {
		name, mode, manifest string
		scc                  string
	}{
		{"enforce, a clean map-to-root pod", "enforce", scenarios.Path("000-usernstest-map-to-root.yaml"), podrun.SCCRestricted},
		{"audit, a host-root pod", "audit", scenarios.Path("hostile-private-host-root.yaml"), podrun.SCCAnyUID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			withHookPolicy(t, withHookNoMinimum, func(p []byte) []byte {
				return setTOML(setTOML(p, "audit_log", fifo), "mode", tc.mode)
			})
			res := run(t, n, tc.manifest, podrun.Options{SCC: tc.scc})
			c := onlyContainer(t, res)
			if !res.Admitted || res.SandboxError != "" || c.Created {
				t.Fatalf("want a sandbox and a container refused by the hook:\n%s", text(res))
			}
			want := "crio-userns-hook: test/" + res.Pod + "/usernstest: audit_log " + fifo + ": not a regular file (a FIFO); point audit_log at a regular file owned by root"
			switch {
			case strings.Contains(c.CreateError, "crio-userns-hook: "):
				if !strings.Contains(c.CreateError, want) {
					t.Errorf("CreateContainer error lacks %q:\n%s", want, c.CreateError)
				}
			case strings.Contains(c.CreateError, "(exit code: 1)"):
				// crun discards a hook's stderr, and the audit log is the
				// FIFO: the hook's refusal, not a kill at the hooks.d
				// timeout, is all there is to see here (the record goes
				// to syslog).
			default:
				t.Errorf("CreateContainer error is not the hook's refusal:\n%s", c.CreateError)
			}
			if strings.Contains(c.CreateError, "timed out") || strings.Contains(c.CreateError, "timeout") {
				t.Errorf("the hook did not answer before its deadline:\n%s", c.CreateError)
			}
			assertIdle(t, n)
		})
	}
	t.Run("a pod without a user namespace runs", func(t *testing.T) {
		withHookPolicy(t, withHookNoMinimum, func(p []byte) []byte { return setTOML(p, "audit_log", fifo) })
		res := run(t, n, scenarios.Path("000-usernstest-host-userns.yaml"), podrun.Options{SCC: podrun.SCCAnyUID})
		c := onlyContainer(t, res)
		requireRunning(t, res, c)
		assertIdle(t, n)
	})
}
