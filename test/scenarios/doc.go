// Package scenarios holds the Pod manifests the e2e suite, the demo and the
// benchmarks run, beside the field reports' own manifests in contrib/examples.
package scenarios

import (
	"path/filepath"

	"github.com/crio-userns/crio-userns/internal/repo"
)

// Path names a scenario manifest in test/scenarios.
func Path(name string) string { return filepath.Join(repo.MustRoot(), "test", "scenarios", name) }

// Example names a field-report manifest in contrib/examples.
func Example(name string) string {
	return filepath.Join(repo.MustRoot(), "contrib", "examples", name)
}
