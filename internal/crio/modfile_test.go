package crio

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPrepareModFileReplacesRefusedVersions(t *testing.T) {
	dir := t.TempDir()
	tree := filepath.Join(dir, "cri-o")
	os.MkdirAll(tree, 0o755)
	gomod := "module github.com/cri-o/cri-o\n\ngo 1.24\n\nrequire (\n\tgithub.com/checkpoint-restore/go-criu/v8 v8.1.0\n\tgithub.com/opencontainers/runtime-spec v1.2.1\n)\n"
	os.WriteFile(filepath.Join(tree, "go.mod"), []byte(gomod), 0o644)
	os.WriteFile(filepath.Join(tree, "go.sum"), []byte("x v1 h1:x=\n"), 0o644)

	// Relative, as crio-build passes it.
	t.Chdir(dir)
	m, err := PrepareModFile(context.Background(), "cri-o")
	if err != nil {
		t.Fatal(err)
	}
	if m.Path != tree+".build.mod" || len(m.Replaced) != 1 || m.Replaced[0] != "github.com/checkpoint-restore/go-criu/v8@v8.1.0 => v8.2.0" {
		t.Fatalf("ModFile = %+v", m)
	}
	if want := "-replace=github.com/checkpoint-restore/go-criu/v8@v8.1.0=github.com/checkpoint-restore/go-criu/v8@v8.2.0"; len(m.EditArgs) != 1 || m.EditArgs[0] != want {
		t.Errorf("EditArgs = %q, want [%q]", m.EditArgs, want)
	}
	if len(m.Modules) != 1 || m.Modules[0] != "github.com/checkpoint-restore/go-criu/v8" {
		t.Errorf("Modules = %q", m.Modules)
	}
	alt, err := os.ReadFile(m.Path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(alt), "replace github.com/checkpoint-restore/go-criu/v8 v8.1.0 => github.com/checkpoint-restore/go-criu/v8 v8.2.0") {
		t.Errorf("alternate go.mod lacks the replace:\n%s", alt)
	}
	if sum, _ := os.ReadFile(tree + ".build.sum"); string(sum) != "x v1 h1:x=\n" {
		t.Errorf("alternate go.sum = %q, want go.sum's content", sum)
	}
	if own, _ := os.ReadFile(filepath.Join(tree, "go.mod")); string(own) != gomod {
		t.Errorf("the tree's go.mod changed:\n%s", own)
	}
	if !strings.Contains(m.GoFlags(), "-modfile="+m.Path) {
		t.Errorf("GoFlags %q", m.GoFlags())
	}

	// A tree that needs nothing: no alternate file, and a stale one goes.
	os.WriteFile(filepath.Join(tree, "go.mod"), []byte("module github.com/cri-o/cri-o\n\ngo 1.24\n\nrequire github.com/checkpoint-restore/go-criu/v8 v8.2.0\n"), 0o644)
	m, err = PrepareModFile(context.Background(), tree)
	if err != nil || m.Path != "" || len(m.Replaced) != 0 || len(m.EditArgs) != 0 || strings.Contains(m.GoFlags(), "modfile") {
		t.Fatalf("ModFile = %+v, %v", m, err)
	}
	if _, err := os.Stat(tree + ".build.mod"); !os.IsNotExist(err) {
		t.Errorf("stale alternate go.mod left: %v", err)
	}
}
