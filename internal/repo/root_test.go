package repo

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRoot(t *testing.T) {
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "patches")); err != nil {
		t.Fatalf("root %s has no patches/: %v", root, err)
	}
}

func TestIsRoot(t *testing.T) {
	for _, tt := range []struct {
		name  string
		gomod string
		want  bool
	}{
		{"ours", "module github.com/crio-userns/crio-userns\n\ngo 1.26.3\n", true},
		{"quoted", "// comment\nmodule \"github.com/crio-userns/crio-userns\"\n", true},
		{"another module", "module example.com/other\n", false},
		{"a submodule of ours", "module github.com/crio-userns/crio-userns/tools\n", false},
		{"no go.mod", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.gomod != "" {
				if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(tt.gomod), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if got := IsRoot(dir); got != tt.want {
				t.Errorf("IsRoot = %v, want %v", got, tt.want)
			}
		})
	}
}
