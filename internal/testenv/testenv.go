// Package testenv holds the test-environment checks shared by the image
// packages' tests. They follow the project's rule for tests that need the real
// machine: missing root or tools fails the test loudly, and only E2E=skip
// turns that into a skip, so CI can never pass by silently skipping.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// SkipRequested reports whether E2E=skip is set.
func SkipRequested() bool { return os.Getenv("E2E") == "skip" }

// Require fails t with msg when ok is false, or skips it under E2E=skip.
func Require(t testing.TB, ok bool, msg string) {
	t.Helper()
	if ok {
		return
	}
	if SkipRequested() {
		t.Skipf("E2E=skip: %s", msg)
	}
	t.Fatalf("%s (set E2E=skip to skip tests that need the real machine)", msg)
}

// RequireRoot requires an effective UID of 0.
func RequireRoot(t testing.TB) {
	t.Helper()
	Require(t, os.Geteuid() == 0, "this test needs root (it creates user namespaces, mounts or switches users)")
}

// RequireTool requires name on PATH and returns its path; pkg is the Debian
// package that provides it, for the failure message.
func RequireTool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	Require(t, err == nil, name+" is not on PATH (apt-get install "+pkg+")")
	return p
}
