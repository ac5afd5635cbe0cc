package crio

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseTestEvents(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"run","Package":"p/server","Test":"TestA"}`,
		`{"Action":"pass","Package":"p/server","Test":"TestA"}`,
		`{"Action":"fail","Package":"p/server","Test":"TestB/sub"}`,
		`{"Action":"fail","Package":"p/server","Test":"TestB"}`,
		`{"Action":"skip","Package":"p/server","Test":"TestC"}`,
		`{"Action":"output","Package":"p/server","Output":"FAIL\n"}`,
		`{"Action":"fail","Package":"p/server"}`,
		`{"Action":"pass","Package":"p/nsmgr"}`,
		`# p/broken`,
		`server/x.go:1:1: syntax error`,
		`{"Action":"fail","Package":"p/broken","FailedBuild":"p/broken"}`,
	}, "\n")
	got, err := parseTestEvents(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := Outcomes{
		"p/server TestA":              "pass",
		"p/server TestB/sub":          "fail",
		"p/server TestB":              "fail",
		"p/server TestC":              "skip",
		"p/server (build or package)": "fail",
		"p/broken (build or package)": "fail",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	if _, err := parseTestEvents(strings.NewReader(`{"Action":`)); err == nil {
		t.Fatal("truncated event accepted")
	}
}

func TestCompare(t *testing.T) {
	pristine := Outcomes{
		"s TestKept":           "pass",
		"s TestBroken":         "pass",
		"s TestAlwaysFails":    "fail",
		"s TestRemoved":        "pass",
		"s TestSkipped":        "skip",
		"s (build or package)": "fail",
	}
	patched := Outcomes{
		"s TestKept":           "pass",
		"s TestBroken":         "fail",
		"s TestAlwaysFails":    "fail",
		"s TestSkipped":        "skip",
		"s TestNewGood":        "pass",
		"s TestNewBad":         "fail",
		"s (build or package)": "fail",
	}
	c := Compare(pristine, patched)
	if want := []string{"s TestBroken", "s TestRemoved (no longer runs)"}; !reflect.DeepEqual(c.Regressions, want) {
		t.Errorf("regressions %v, want %v", c.Regressions, want)
	}
	if want := []string{"s TestNewBad"}; !reflect.DeepEqual(c.NewFailing, want) {
		t.Errorf("new failing %v, want %v", c.NewFailing, want)
	}
	if want := []string{"s (build or package)", "s TestAlwaysFails"}; !reflect.DeepEqual(c.PreExisting, want) {
		t.Errorf("pre-existing %v, want %v", c.PreExisting, want)
	}
	if c.Passed != 2 || c.OK() {
		t.Errorf("passed=%d ok=%v", c.Passed, c.OK())
	}
	if !Compare(pristine, pristine).OK() {
		t.Error("a tree compared with itself has regressions")
	}
}

func TestRemovedTests(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	commit := func(msg string) {
		t.Helper()
		for _, args := range [][]string{{"add", "-A"}, {"commit", "-q", "--allow-empty", "-m", msg}} {
			if _, err := git(ctx, dir, nil, args...); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := git(ctx, dir, nil, "init", "-q"); err != nil {
		t.Fatal(err)
	}
	write("a_test.go", "package a\n\nfunc TestKept(t *testing.T) {}\n\nfunc TestMoved(t *testing.T) {}\n\nfunc TestGone(t *testing.T) {}\n\nfunc TestRenamed(t *testing.T) {}\n")
	write("a.go", "package a\n\nfunc TestNotATest() {}\n")
	commit("pristine")
	write("a_test.go", "package a\n\nfunc TestKept(t *testing.T) {}\n\nfunc TestRenamedNow(t *testing.T) {}\n")
	write("b_test.go", "package a\n\nfunc TestMoved(t *testing.T) {}\n")
	write("a.go", "package a\n")
	commit("series")
	got, err := RemovedTests(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"TestGone", "TestRenamed"}; !reflect.DeepEqual(got, want) {
		t.Errorf("RemovedTests = %v, want %v", got, want)
	}
}

func TestOutcomesFailing(t *testing.T) {
	o := Outcomes{"p TestB": "fail", "p TestA": "pass", "p (build or package)": "fail", "p TestC": "skip"}
	if got, want := o.Failing(), []string{"p (build or package)", "p TestB"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Failing = %v, want %v", got, want)
	}
}
