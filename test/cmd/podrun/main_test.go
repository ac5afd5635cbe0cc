package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var examples = filepath.Join("..", "..", "..", "contrib", "examples")

// The exit-status contract: 2 for bad usage and bad manifests, 1 for a pod
// that did not run (here: rejected by admission, which needs no node) or an
// unreachable node.
func TestExitStatus(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    imagee: i\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	noSocket := "--socket=" + filepath.Join(dir, "none.sock")
	tests := []struct {
		name       string
		args       []string
		want       int
		wantStdout []string
		wantStderr []string
	}{
		{"no manifest", nil, 2, nil, []string{"usage: podrun"}},
		{"two manifests", []string{"a.yaml", "b.yaml"}, 2, nil, []string{"usage: podrun"}},
		{"unknown flag", []string{"--bogus", "a.yaml"}, 2, nil, []string{"flag provided but not defined: -bogus"}},
		{"bad scc", []string{"--scc", "privileged", "a.yaml"}, 2, nil, []string{`--scc "privileged"`}},
		{"bad range", []string{"--uid-range", "10", "a.yaml"}, 2, nil, []string{"START/SIZE"}},
		{"bad image rule", []string{"--image", "x", "a.yaml"}, 2, nil, []string{"FROM=TO"}},
		{"missing manifest", []string{filepath.Join(dir, "missing.yaml")}, 2, nil, []string{"missing.yaml: open"}},
		{"invalid manifest", []string{bad}, 2, nil, []string{bad + ": strict decoding error", `unknown field "spec.containers[0].imagee"`}},
		{"admission rejection", []string{"--scc", "restricted", filepath.Join(examples, "000-fedora-runasuser-0.yaml")}, 1,
			[]string{"REJECTED", "spec.containers[0].securityContext.runAsUser: Invalid value: 0: must be in the ranges: [1000650000, 1000659999]"}, nil},
		{"flags after the manifest", []string{filepath.Join(examples, "000-fedora-runasuser-0.yaml"), "--scc", "restricted", "--uid-range", "5000/10"}, 1,
			[]string{"must be in the ranges: [5000, 5009]"}, nil},
		{"no node", []string{noSocket, filepath.Join(examples, "000-fedora-map-to-root.yaml")}, 1, nil, []string{"none.sock", "is the node up"}},
		{"cleanup without a node", []string{noSocket, "--cleanup"}, 1, nil, []string{"none.sock"}},
		{"cleanup takes no manifest", []string{"--cleanup", "a.yaml"}, 2, nil, []string{"takes no manifest"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if got := run(tt.args, &stdout, &stderr); got != tt.want {
				t.Errorf("exit status %d, want %d\nstdout: %s\nstderr: %s", got, tt.want, stdout.String(), stderr.String())
			}
			for _, w := range tt.wantStdout {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
		})
	}
}

func TestJSONRejection(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"--json", "--scc", "restricted", filepath.Join(examples, "000-fedora-runasuser-0.yaml")}, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit status %d; stderr %s", code, stderr.String())
	}
	var res struct {
		Pod            string           `json:"pod"`
		Admitted       bool             `json:"admitted"`
		AdmissionError string           `json:"admissionError"`
		Containers     []map[string]any `json:"containers"`
	}
	dec := json.NewDecoder(&stdout)
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("stdout is not JSON: %v", err)
	}
	if dec.More() {
		t.Error("stdout holds more than one JSON value")
	}
	if res.Pod != "fedora" || res.Admitted || !strings.Contains(res.AdmissionError, "must be in the ranges") || len(res.Containers) != 1 {
		t.Errorf("result %+v", res)
	}
}
