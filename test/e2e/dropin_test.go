package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crio-userns/crio-userns/internal/crio"
	"github.com/crio-userns/crio-userns/internal/crioconf"
	"github.com/crio-userns/crio-userns/internal/repo"
)

// crioConfig runs `crio config` with only dropIns: it loads and validates the
// configuration as the daemon does at start (workload annotations included)
// and exits.
func crioConfig(t *testing.T, bin string, dropIns map[string][]byte) (string, error) {
	t.Helper()
	dir := t.TempDir()
	for name, data := range dropIns {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--config", "", "--config-dir", dir, "config").CombinedOutput()
	return string(out), err
}

// The drop-in the project ships for this CRI-O version lets that CRI-O
// (pristine, which ignores the series' options, and patched) load it.
// Before 1.35 the newest line's drop-in must not: that refusal is why the
// drop-in is chosen per line.
func TestShippedDropInLetsCrioStart(t *testing.T) {
	dropIns, err := crioconf.Files(repo.MustRoot(), crioVersion)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []flavour{patched, pristine} {
		t.Run(string(f), func(t *testing.T) {
			requireFlavour(t, f)
			bin := filepath.Join(f.binDir(), "crio")
			if out, err := crioConfig(t, bin, dropIns); err != nil {
				t.Fatalf("CRI-O %s (%s) refuses the drop-in shipped for it: %v\n%s", crioVersion, f, err, lastLines(out, 5))
			}
		})
	}
	if crioconf.KnowsV2Annotations(crioRelease()) {
		return
	}
	t.Run("newest line's drop-in refused", func(t *testing.T) {
		newest, err := crio.ParseRelease(defaultVersion)
		if err != nil || !crioconf.KnowsV2Annotations(newest) {
			t.Skipf("the default version %s predates the *.crio.io names too", defaultVersion)
		}
		other, err := crioconf.Files(repo.MustRoot(), defaultVersion)
		if err != nil {
			t.Fatal(err)
		}
		out, err := crioConfig(t, filepath.Join(patched.binDir(), "crio"), other)
		if err == nil || !strings.Contains(out, "invalid allowed_annotation") {
			t.Fatalf("CRI-O %s loaded the %s drop-in (err %v); want \"invalid allowed_annotation\":\n%s", crioVersion, defaultVersion, err, lastLines(out, 5))
		}
	})
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
