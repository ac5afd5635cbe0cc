// Package repo finds this project's checkout, for tools and tests that read
// its files (patches, contrib, scenarios) wherever they are started from.
package repo

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// ModulePath is the project's Go module path.
const ModulePath = "github.com/crio-userns/crio-userns"

// Root returns the checkout's root directory: the module root this file was
// compiled from when that still exists (go test, go run), else the first
// directory at or above the working directory whose go.mod declares
// ModulePath (tools built with -trimpath and run from the checkout, as make
// does).
func Root() (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		root := filepath.Dir(filepath.Dir(filepath.Dir(file))) // ROOT/internal/repo/root.go
		if IsRoot(root) {
			return root, nil
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the checkout: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if IsRoot(dir) {
			return dir, nil
		}
		if dir == filepath.Dir(dir) {
			return "", fmt.Errorf("no checkout of %s at or above %s", ModulePath, wd)
		}
	}
}

// MustRoot is Root for tests and tools that cannot work without the checkout.
func MustRoot() string {
	root, err := Root()
	if err != nil {
		panic(err)
	}
	return root
}

// IsRoot reports whether dir/go.mod declares ModulePath.
func IsRoot(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`) == ModulePath
		}
	}
	return false
}
