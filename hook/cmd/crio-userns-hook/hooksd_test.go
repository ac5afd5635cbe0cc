package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crio-userns/crio-userns/internal/policy"
)

// hookConfig is oci-hooks(5) schema 1.0.0, as containers/common pkg/hooks
// (what CRI-O loads hooks.d with) reads it.
type hookConfig struct {
	Version string     `json:"version"`
	Hook    rspec.Hook `json:"hook"`
	When    struct {
		Always        *bool             `json:"always,omitempty"`
		Annotations   map[string]string `json:"annotations,omitempty"`
		Commands      []string          `json:"commands,omitempty"`
		HasBindMounts *bool             `json:"hasBindMounts,omitempty"`
	} `json:"when"`
	Stages []string `json:"stages"`
}

// validateHookConfig applies containers/common's load-time rules (version,
// hook.path, regexps, known stages), the schema's (at least one "when"
// condition), and this project's: stage createRuntime, and a timeout above
// the hook's own deadline so that the hook, not the runtime, reports it.
// Unknown keys are refused too, since CRI-O would silently ignore a
// misspelt "annotation" and run the hook never or always.
func validateHookConfig(data []byte) (*hookConfig, error) {
	var h hookConfig
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return nil, err
	}
	if h.Version != "1.0.0" {
		return nil, fmt.Errorf("unexpected hook version %q (expecting 1.0.0)", h.Version)
	}
	if h.Hook.Path == "" || !filepath.IsAbs(h.Hook.Path) {
		return nil, fmt.Errorf("hook.path %q: want an absolute path", h.Hook.Path)
	}
	for k, v := range h.When.Annotations {
		if _, err := regexp.Compile(k); err != nil {
			return nil, fmt.Errorf("invalid annotation key %q: %w", k, err)
		}
		if _, err := regexp.Compile(v); err != nil {
			return nil, fmt.Errorf("invalid annotation value %q: %w", v, err)
		}
	}
	for _, c := range h.When.Commands {
		if _, err := regexp.Compile(c); err != nil {
			return nil, fmt.Errorf("invalid command %q: %w", c, err)
		}
	}
	if h.When.Always == nil && len(h.When.Annotations) == 0 && len(h.When.Commands) == 0 && h.When.HasBindMounts == nil {
		return nil, fmt.Errorf("when: at least one condition is required")
	}
	if len(h.Stages) == 0 {
		return nil, fmt.Errorf("missing required property: stages")
	}
	valid := []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}
	for _, s := range h.Stages {
		if !slices.Contains(valid, s) {
			return nil, fmt.Errorf("unknown stage %q", s)
		}
	}
	if !slices.Equal(h.Stages, []string{"createRuntime"}) {
		return nil, fmt.Errorf("stages %v: the hook needs the container process and runs in the runtime namespace: want [createRuntime]", h.Stages)
	}
	if h.Hook.Timeout == nil || *h.Hook.Timeout <= int(policy.MaxTimeout.Seconds()) {
		return nil, fmt.Errorf("hook.timeout must exceed the hook's maximum own deadline %s", policy.MaxTimeout)
	}
	if len(h.Hook.Args) == 0 || h.Hook.Args[0] != "crio-userns-hook" {
		return nil, fmt.Errorf("hook.args[0] %v: want the program name", h.Hook.Args)
	}
	return &h, nil
}

func TestContribHooksD(t *testing.T) {
	files, err := filepath.Glob("../../../contrib/hooks.d/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no hooks.d files: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		h, err := validateHookConfig(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		// "always": native user-namespaced pods carry no annotation to match
		// on; the hook's fast path makes the others cheap.
		if h.When.Always == nil || !*h.When.Always {
			t.Errorf("%s: want when.always = true", f)
		}
		// One P from the start: a hook that drops to one itself pays for
		// the second one first (runtime.GOMAXPROCS(1) in main).
		if !slices.Contains(h.Hook.Env, "GOMAXPROCS=1") {
			t.Errorf("%s: want GOMAXPROCS=1 in hook.env, got %v", f, h.Hook.Env)
		}
		// The args must be ones the hook accepts, in the environment the
		// runtime gives it: hook.env and nothing else (runc and crun).
		bin := buildHook(t)
		cmd := exec.Command(bin, append(h.Hook.Args[1:], "--version")...)
		cmd.Args[0], cmd.Env = h.Hook.Args[0], h.Hook.Env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: args %v, env %v refused: %v: %s", f, h.Hook.Args, h.Hook.Env, err, out)
		}
	}
}

func TestValidateHookConfigRejects(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"bad version", `{"version":"2.0.0"}`, `unexpected hook version "2.0.0" (expecting 1.0.0)`},
		{"misspelt when key", `{"version":"1.0.0","hook":{"path":"/x"},"when":{"annotation":{"a":"b"}},"stages":["createRuntime"]}`, `json: unknown field "annotation"`},
		{"relative path", `{"version":"1.0.0","hook":{"path":"x"},"when":{"always":true},"stages":["createRuntime"]}`, `hook.path "x": want an absolute path`},
		{"bad regexp", `{"version":"1.0.0","hook":{"path":"/x"},"when":{"annotations":{"(":"x"}},"stages":["createRuntime"]}`, "invalid annotation key \"(\": error parsing regexp: missing closing ): `(`"},
		{"no condition", `{"version":"1.0.0","hook":{"path":"/x"},"when":{},"stages":["createRuntime"]}`, "when: at least one condition is required"},
		{"unknown stage", `{"version":"1.0.0","hook":{"path":"/x"},"when":{"always":true},"stages":["create"]}`, `unknown stage "create"`},
		{"prestart", `{"version":"1.0.0","hook":{"path":"/x"},"when":{"always":true},"stages":["prestart"]}`, "stages [prestart]: the hook needs the container process and runs in the runtime namespace: want [createRuntime]"},
		{"short timeout", `{"version":"1.0.0","hook":{"path":"/x","timeout":2},"when":{"always":true},"stages":["createRuntime"]}`, "hook.timeout must exceed the hook's maximum own deadline 4s"},
	} {
		if _, err := validateHookConfig([]byte(tc.in)); err == nil || err.Error() != tc.want {
			t.Errorf("%s: error %v\nwant %s", tc.name, err, tc.want)
		}
	}
}
