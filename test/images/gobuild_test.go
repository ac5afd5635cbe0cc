package images

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindModuleRoot(t *testing.T) {
	root, err := FindModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "test", "images", "usernstest", "main.go")); err != nil {
		t.Errorf("module root %s has no usernstest sources: %v", root, err)
	}
}

func TestIsModuleRoot(t *testing.T) {
	tests := []struct {
		name  string
		gomod string
		want  bool
	}{
		{"ours", "module github.com/crio-userns/crio-userns\n\ngo 1.26.3\n", true},
		{"quoted", "// comment\nmodule \"github.com/crio-userns/crio-userns\"\n", true},
		{"another module", "module example.com/other\n", false},
		{"a submodule of ours", "module github.com/crio-userns/crio-userns/tools\n", false},
		{"no go.mod", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.gomod != "" {
				if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(tt.gomod), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if got := isModuleRoot(dir); got != tt.want {
				t.Errorf("isModuleRoot = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCheckStatic(t *testing.T) {
	text := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(text, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want string // "" for static
	}{
		// Debian's coreutils are dynamically linked against libc.
		{"/bin/ls", "dynamically linked"},
		{text, "checking"},
		{"/nonexistent", "checking"},
	}
	if _, err := os.Stat(DefaultBusybox); err == nil {
		tests = append(tests, struct{ path, want string }{DefaultBusybox, ""})
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			err := checkStatic(tt.path)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("want static, got %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
