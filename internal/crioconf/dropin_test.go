package crioconf

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/crio-userns/crio-userns/internal/crio"
	"github.com/crio-userns/crio-userns/internal/repo"
)

func release(t *testing.T, v string) crio.Release {
	t.Helper()
	r, err := crio.ParseRelease(v)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The shipped drop-in: both names of each annotation for 1.35 and later,
// only the legacy ones before, everything else byte for byte the same.
func TestShippedDropInPerLine(t *testing.T) {
	root := repo.MustRoot()
	newest, err := DropIns(root, "v1.36.3")
	if err != nil {
		t.Fatal(err)
	}
	if len(newest) != 1 || newest[0].Name != Name || newest[0].Source != Source {
		t.Fatalf("DropIns = %+v", newest)
	}
	for _, tc := range []struct {
		version string
		want    []string
	}{
		{"v1.36.3", []string{"cgroup2-mount-hierarchy-rw.crio.io", "devices.crio.io", "io.kubernetes.cri-o.Devices", "io.kubernetes.cri-o.cgroup2-mount-hierarchy-rw", "io.kubernetes.cri-o.userns-mode", "userns-mode.crio.io"}},
		{"v1.35.2", []string{"cgroup2-mount-hierarchy-rw.crio.io", "devices.crio.io", "io.kubernetes.cri-o.Devices", "io.kubernetes.cri-o.cgroup2-mount-hierarchy-rw", "io.kubernetes.cri-o.userns-mode", "userns-mode.crio.io"}},
		{"v1.34.0", []string{"io.kubernetes.cri-o.Devices", "io.kubernetes.cri-o.cgroup2-mount-hierarchy-rw", "io.kubernetes.cri-o.userns-mode"}},
		{"v1.33.5", []string{"io.kubernetes.cri-o.Devices", "io.kubernetes.cri-o.cgroup2-mount-hierarchy-rw", "io.kubernetes.cri-o.userns-mode"}},
	} {
		d, err := DropIns(root, tc.version)
		if err != nil {
			t.Fatalf("%s: %v", tc.version, err)
		}
		got, err := allowedAnnotations(d[0].Content)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got["openshift-userns"], tc.want) {
			t.Errorf("%s: allowed_annotations %q, want %q", tc.version, got["openshift-userns"], tc.want)
		}
		for _, name := range UsernsModeAnnotations(release(t, tc.version)) {
			if !slices.Contains(got["openshift-userns"], name) {
				t.Errorf("%s: the workload does not allow %s, a userns-mode name this line reads", tc.version, name)
			}
		}
		// Only the *.crio.io lines differ.
		if removed := lineDiff(newest[0].Content, d[0].Content); len(removed) > 0 && !KnowsV2Annotations(release(t, tc.version)) {
			for _, l := range removed {
				if !strings.Contains(l, v2Suffix+`"`) {
					t.Errorf("%s: line %q differs from the 1.35+ drop-in", tc.version, l)
				}
			}
		} else if !bytes.Equal(newest[0].Content, d[0].Content) {
			t.Errorf("%s: differs from the newest line's drop-in", tc.version)
		}
	}
	if _, err := DropIns(root, "1.36"); err == nil {
		t.Error("DropIns accepted a version that is not a release tag")
	}
}

func TestForLineRefusesShapesItCannotAdapt(t *testing.T) {
	old := release(t, "v1.34.0")
	for name, doc := range map[string]string{
		"two names on one line": "[crio.runtime.workloads.w]\nactivation_annotation = \"a\"\nallowed_annotations = [\"userns-mode.crio.io\", \"io.kubernetes.cri-o.userns-mode\"]\n",
		"not TOML":              "[crio.runtime\n",
	} {
		if _, err := ForLine([]byte(doc), old); err == nil {
			t.Errorf("%s: ForLine accepted it", name)
		}
	}
	// Several workloads, the last element without a comma, a comment.
	doc := "[crio.runtime.workloads.a]\nactivation_annotation = \"a\"\nallowed_annotations = [\n  \"io.kubernetes.cri-o.userns-mode\",\n  \"userns-mode.crio.io\" # new name\n]\n" +
		"[crio.runtime.workloads.b]\nactivation_annotation = \"b\"\nallowed_annotations = [\n  \"devices.crio.io\",\n]\n"
	out, err := ForLine([]byte(doc), old)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := allowedAnnotations(out)
	if !slices.Equal(got["a"], []string{"io.kubernetes.cri-o.userns-mode"}) || len(got["b"]) != 0 {
		t.Errorf("got %q from\n%s", got, out)
	}
	if same, err := ForLine([]byte(doc), release(t, "v1.35.0")); err != nil || string(same) != doc {
		t.Errorf("1.35: %v\n%s", err, same)
	}
}

func TestUsernsModeAnnotations(t *testing.T) {
	if got := UsernsModeAnnotations(release(t, "v1.34.0")); !slices.Equal(got, []string{"io.kubernetes.cri-o.userns-mode"}) {
		t.Errorf("1.34: %q", got)
	}
	if got := UsernsModeAnnotations(release(t, "v1.35.2")); !slices.Equal(got, []string{"userns-mode.crio.io", "io.kubernetes.cri-o.userns-mode"}) {
		t.Errorf("1.35: %q", got)
	}
}

// lineDiff returns the lines of a that b lacks.
func lineDiff(a, b []byte) []string {
	have := map[string]int{}
	for _, l := range strings.Split(string(b), "\n") {
		have[l]++
	}
	var out []string
	for _, l := range strings.Split(string(a), "\n") {
		if have[l] > 0 {
			have[l]--
			continue
		}
		out = append(out, l)
	}
	return out
}
