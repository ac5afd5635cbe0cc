package crio

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/crio-userns/crio-userns/internal/command"
)

// TestTags are the build tags CRI-O's own unit tests need on top of BuildTags.
var TestTags = append([]string{"test"}, BuildTags...)

// TouchedPackages lists the Go packages (./dir paths) a series changes in
// tree: every directory with a changed .go file that still holds Go files.
func TouchedPackages(ctx context.Context, tree string) ([]string, error) {
	pristine, err := pristineCommit(ctx, tree)
	if err != nil {
		return nil, err
	}
	out, err := git(ctx, tree, nil, "diff", "--name-only", pristine, "HEAD", "--", "*.go")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var pkgs []string
	for _, f := range strings.Fields(out) {
		dir := filepath.Dir(f)
		if seen[dir] {
			continue
		}
		seen[dir] = true
		if matches, _ := filepath.Glob(filepath.Join(tree, dir, "*.go")); len(matches) > 0 {
			pkgs = append(pkgs, "./"+dir)
		}
	}
	sort.Strings(pkgs)
	return pkgs, nil
}

// Outcomes maps "package TestName" (subtests included) to pass, fail or
// skip; a package that does not build is recorded as "package (build)".
type Outcomes map[string]string

// RunUnitTests runs CRI-O's tests of pkgs in tree and collects each test's
// outcome. Packages missing from tree (new in a series) are left out. With
// cached, the go command may replay a result it recorded for the same test
// binary, environment and input files (go test's own caching); otherwise
// every test runs again (-count=1), as a retry must.
func RunUnitTests(ctx context.Context, tree string, pkgs []string, run string, cached bool, log io.Writer) (Outcomes, error) {
	var present []string
	for _, p := range pkgs {
		if _, err := os.Stat(filepath.Join(tree, p)); err == nil {
			present = append(present, p)
		}
	}
	if len(present) == 0 {
		return Outcomes{}, nil
	}
	mod, err := PrepareModFile(ctx, tree)
	if err != nil {
		return nil, err
	}
	args := []string{"test", "-json", "-tags", strings.Join(TestTags, " ")}
	if !cached {
		args = append(args, "-count=1")
	}
	if run != "" {
		args = append(args, "-run", run)
	}
	cmd := exec.CommandContext(ctx, "go", append(args, present...)...)
	cmd.Dir = tree
	cmd.Env = append(os.Environ(), "GOFLAGS="+mod.GoFlags(), "CGO_ENABLED=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, io.MultiWriter(&stderr, log)
	runErr := cmd.Run() // a failing test is an outcome, not an error
	outcomes, err := parseTestEvents(&stdout)
	if err != nil {
		return nil, err
	}
	if len(outcomes) == 0 && runErr != nil {
		return nil, fmt.Errorf("go test in %s: %w\n%s", tree, runErr, command.Tail(stderr.String(), 20))
	}
	return outcomes, nil
}

func parseTestEvents(r io.Reader) (Outcomes, error) {
	out := Outcomes{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1024*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] != '{' {
			continue // build errors are printed as plain text
		}
		var ev struct {
			Action, Package, Test string
			FailedBuild           string
		}
		if err := json.Unmarshal(line, &ev); err != nil {
			return nil, fmt.Errorf("go test -json: %w: %s", err, line)
		}
		switch ev.Action {
		case "pass", "fail", "skip":
		default:
			continue
		}
		key := ev.Package + " " + ev.Test
		if ev.Test == "" {
			if ev.Action != "fail" {
				continue
			}
			key = ev.Package + " (build or package)"
		}
		out[key] = ev.Action
	}
	return out, sc.Err()
}

// Failing returns the keys of the tests (and packages) that failed.
func (o Outcomes) Failing() []string {
	var keys []string
	for k, v := range o {
		if v == "fail" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// RemovedTests lists the test functions the series deletes from tree's
// _test.go files (in the diff from the pristine commit) and that no
// longer exist under that name anywhere in the patched tree: a test that
// passes upstream and is gone with the series must be seen by a reviewer.
func RemovedTests(ctx context.Context, tree string) ([]string, error) {
	pristine, err := pristineCommit(ctx, tree)
	if err != nil {
		return nil, err
	}
	diff, err := git(ctx, tree, nil, "diff", "-U0", pristine, "HEAD", "--", "*_test.go")
	if err != nil {
		return nil, err
	}
	removed, added := map[string]bool{}, map[string]bool{}
	for _, line := range strings.Split(diff, "\n") {
		m := testFunc.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if m[1] == "-" {
			removed[m[2]] = true
		} else {
			added[m[2]] = true
		}
	}
	var gone []string
	for name := range removed {
		if added[name] {
			continue
		}
		// Moved to a file the diff does not pair with it?
		if out, err := git(ctx, tree, nil, "grep", "-l", "-E", "^func "+name+`\(`, "--", "*_test.go"); err == nil && out != "" {
			continue
		}
		gone = append(gone, name)
	}
	sort.Strings(gone)
	return gone, nil
}

var testFunc = regexp.MustCompile(`^([-+])func (Test\w+)\(`)

// Comparison is how a series changed the outcomes of CRI-O's own tests.
type Comparison struct {
	Regressions []string // pass on pristine, not on patched
	NewFailing  []string // only in patched, failing
	PreExisting []string // failing on both
	Passed      int      // passing on patched
}

// Compare sets patched outcomes against pristine ones.
func Compare(pristine, patched Outcomes) Comparison {
	var c Comparison
	for key, got := range patched {
		was, existed := pristine[key]
		switch {
		case got == "pass":
			c.Passed++
		case got == "skip":
		case !existed:
			c.NewFailing = append(c.NewFailing, key)
		case was == "fail":
			c.PreExisting = append(c.PreExisting, key)
		case was == "pass":
			c.Regressions = append(c.Regressions, key)
		}
	}
	for key, was := range pristine {
		if _, ok := patched[key]; !ok && was == "pass" && !strings.HasSuffix(key, ")") {
			// A test that vanished is fine only if the series removed it on
			// purpose; report it so a reviewer sees it.
			c.Regressions = append(c.Regressions, key+" (no longer runs)")
		}
	}
	sort.Strings(c.Regressions)
	sort.Strings(c.NewFailing)
	sort.Strings(c.PreExisting)
	return c
}

// OK reports whether the series broke nothing.
func (c Comparison) OK() bool { return len(c.Regressions)+len(c.NewFailing) == 0 }
