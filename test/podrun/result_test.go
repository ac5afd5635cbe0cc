package podrun

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestResultExitCode(t *testing.T) {
	ok := func() *Result {
		return &Result{Admitted: true, SandboxID: "sb", Containers: []*ContainerResult{
			{Name: "init", Init: true, Created: true, Started: true, ExitCode: ptr(int32(0))},
			{Name: "app", Created: true, Started: true},
		}}
	}
	tests := []struct {
		name   string
		mutate func(*Result)
		want   int
	}{
		{"running and completed containers", func(*Result) {}, 0},
		{"rejected", func(r *Result) { r.Admitted = false; r.AdmissionError = "x" }, 1},
		{"sandbox failed", func(r *Result) { r.SandboxID = ""; r.SandboxError = "x" }, 1},
		{"create failed", func(r *Result) { r.Containers[1].Created = false; r.Containers[1].CreateError = "x" }, 1},
		{"not started", func(r *Result) { r.Containers[1].Started = false }, 1},
		{"exited non-zero", func(r *Result) { r.Containers[1].ExitCode = ptr(int32(2)) }, 1},
		{"timed out", func(r *Result) { r.Aborted = "timeout" }, 1},
		{"cleanup failed", func(r *Result) { r.CleanupError = "x" }, 1},
	}
	for _, tt := range tests {
		r := ok()
		tt.mutate(r)
		if got := r.ExitCode(); got != tt.want {
			t.Errorf("%s: ExitCode = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestResultJSON(t *testing.T) {
	r := &Result{Pod: "fedora", Admitted: true, SandboxID: "sb", Containers: []*ContainerResult{{
		Name: "fedora", Created: true, Started: true,
		UIDMap: [][3]uint32{{0, 1000650000, 1}, {1, 200000, 65535}},
		Exec:   &ExecResult{Cmd: []string{"id"}, Stdout: "uid=0(root)\n", ExitCode: ptr(int32(0))},
	}, {Name: "second"}}}
	out, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"pod", "admitted", "admissionError", "sandboxId", "sandboxError", "containers"} {
		if _, ok := got[key]; !ok {
			t.Errorf("JSON lacks %q: %s", key, out)
		}
	}
	c := got["containers"].([]any)[0].(map[string]any)
	for _, key := range []string{"name", "created", "createError", "started", "exitCode", "log", "uidMap", "gidMap", "capBnd", "capEff", "processes", "exec"} {
		if _, ok := c[key]; !ok {
			t.Errorf("container JSON lacks %q", key)
		}
	}
	if c["exitCode"] != nil {
		t.Errorf("exitCode of a running container = %v, want null", c["exitCode"])
	}
	if _, ok := c["init"]; ok {
		t.Errorf("an app container has an init field")
	}
	if m := c["uidMap"].([]any)[0].([]any); m[0] != 0.0 || m[1] != 1000650000.0 || m[2] != 1.0 {
		t.Errorf("uidMap[0] = %v", m)
	}
	second := got["containers"].([]any)[1].(map[string]any)
	for _, key := range []string{"uidMap", "gidMap", "processes"} {
		if l, ok := second[key].([]any); !ok || len(l) != 0 {
			t.Errorf("empty %s renders as %v, want []", key, second[key])
		}
	}
	if _, ok := second["exec"]; ok {
		t.Errorf("exec present without --exec")
	}
	if !r.Containers[0].HasUIDMapping(0, 1000650000, 1) || r.Containers[0].HasUIDMapping(0, 1000650000, 2) {
		t.Error("HasUIDMapping is wrong")
	}
}

func TestResultText(t *testing.T) {
	r := &Result{Pod: "fedora", Namespace: "test", SCC: SCCRestricted, Admitted: true, SandboxID: "sb",
		Containers: []*ContainerResult{{Name: "fedora", Image: "img", Created: false,
			CreateError: "container create failed: unable to setup user: cannot set uid to unmapped user in user namespace"}}}
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"pod test/fedora", "create FAILED: container create failed: unable to setup user: cannot set uid to unmapped user in user namespace", "result: FAILED"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
}

func TestUIDMapSeen(t *testing.T) {
	sampled := &ContainerResult{UIDMap: [][3]uint32{{0, 200000, 65536}}, Log: "--- uid_map\n 0 1 1\n"}
	if got := sampled.UIDMapSeen(); len(got) != 1 || got[0] != [3]uint32{0, 200000, 65536} {
		t.Errorf("a sampled map must win over the log: %v", got)
	}
	exited := &ContainerResult{Log: "--- uid_map\n         1     200001      65535\n         0 1000650000          1\n--- gid_map\n 0 5 1\n"}
	if !exited.HasGIDMapping(0, 5, 1) || !exited.HasUIDMapping(0, 1000650000, 1) || !exited.HasUIDMapping(1, 200001, 65535) || len(exited.UIDMapSeen()) != 2 {
		t.Errorf("map from the log: %v", exited.UIDMapSeen())
	}
	for _, log := range []string{"", "no header\n", "--- uid_map\nnot numbers\n"} {
		if got := (&ContainerResult{Log: log}).UIDMapSeen(); got != nil {
			t.Errorf("log %q: got %v, want nil", log, got)
		}
	}
}
