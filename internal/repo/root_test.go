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
	dir := t.TempDir()
	if IsRoot(dir) {
		t.Fatal("empty dir taken for the checkout")
	}
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/other\n"), 0o644)
	if IsRoot(dir) {
		t.Fatal("another module taken for the checkout")
	}
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module "+ModulePath+"\n\ngo 1.26\n"), 0o644)
	if !IsRoot(dir) {
		t.Fatal("checkout not recognised")
	}
}
