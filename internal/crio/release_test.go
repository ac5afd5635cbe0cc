package crio

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseRelease(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Release
		err  bool
	}{
		{in: "v1.36.3", want: Release{1, 36, 3}},
		{in: "v1.4.10", want: Release{1, 4, 10}},
		{in: "v2.0.0", want: Release{2, 0, 0}},
		{in: "1.36.3", err: true},
		{in: "v1.36", err: true},
		{in: "v1.36.3-rc.1", err: true},
		{in: "v1.036.3", err: true},
		{in: "v1.36.x", err: true},
		{in: "main", err: true},
		{in: "", err: true},
	} {
		got, err := ParseRelease(tc.in)
		if tc.err {
			if err == nil || !strings.Contains(err.Error(), "vMAJOR.MINOR.PATCH") {
				t.Errorf("ParseRelease(%q) = %v, %v; want an error naming the form", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want || got.String() != tc.in {
			t.Errorf("ParseRelease(%q) = %v (%s), %v", tc.in, got, got, err)
		}
	}
	if r, _ := ParseRelease("v1.34.0"); r.Line() != "1.34" || r.AtLeast(1, 35) || !r.AtLeast(1, 34) || !r.AtLeast(0, 99) {
		t.Errorf("Line/AtLeast of v1.34.0 wrong: %s", r.Line())
	}
}

func TestListSeriesOrdersReleasesAndSkipsMain(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"v1.36.3", "v1.4.0", "v1.34.0", "v1.35.2", "main"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(root, "README.md"), nil, 0o644)
	os.WriteFile(filepath.Join(root, "v9.9.9"), nil, 0o644) // a file, not a series
	got, err := ListSeries(root)
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1.4.0 v1.34.0 v1.35.2 v1.36.3"; strings.Join(got, " ") != want {
		t.Errorf("ListSeries = %v, want %s (numeric order, patches/main left out)", got, want)
	}
	if d, err := DefaultSeries(root); err != nil || d != "v1.36.3" {
		t.Errorf("DefaultSeries = %q, %v; want the newest, v1.36.3", d, err)
	}

	os.MkdirAll(filepath.Join(root, "v1.37"), 0o755)
	if _, err := ListSeries(root); err == nil || !strings.Contains(err.Error(), "v1.37") {
		t.Errorf("a malformed series directory must be an error, got %v", err)
	}
	if _, err := DefaultSeries(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no patch series") {
		t.Errorf("no series: %v", err)
	}
}

// The checkout's own patches/: every release directory parses and the
// default is one of them.
func TestCheckoutSeries(t *testing.T) {
	root := filepath.Join("..", "..", "patches")
	versions, err := ListSeries(root)
	if err != nil || len(versions) == 0 {
		t.Fatalf("ListSeries(%s) = %v, %v", root, versions, err)
	}
	d, err := DefaultSeries(root)
	if err != nil || d != versions[len(versions)-1] {
		t.Fatalf("DefaultSeries = %q, %v", d, err)
	}
}
