package podrun

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// examplesDir holds the field reports' manifests.
var examplesDir = filepath.Join("..", "..", "contrib", "examples")

// Every Pod manifest the project ships (the field reports' in contrib/examples
// and the scenarios in test/scenarios) must load; other kinds there (the
// rendered MachineConfig) are not podrun's.
func TestLoadManifestExamples(t *testing.T) {
	var files []string
	for _, dir := range []string{examplesDir, filepath.Join(examplesDir, "..", "..", "test", "scenarios")} {
		matches, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, matches...)
	}
	pods := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal(data, &meta); err != nil || meta.Kind != "Pod" {
			continue
		}
		pods++
		t.Run(filepath.Base(f), func(t *testing.T) {
			pod, err := LoadManifest(f)
			if err != nil {
				t.Fatalf("LoadManifest: %v", err)
			}
			if pod.Name == "" || len(pod.Spec.Containers) == 0 {
				t.Errorf("decoded pod lacks a name or containers: %+v", pod)
			}
		})
	}
	if pods < 10 {
		t.Fatalf("found %d Pod manifests in %s and test/scenarios, want the field reports' and the scenarios", pods, examplesDir)
	}
}

func TestLoadManifestErrors(t *testing.T) {
	const ok = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: i\n"
	tests := []struct {
		name, yaml string
		want       []string // substrings of the error, after "PATH: "
	}{
		{"unknown field", strings.Replace(ok, "image: i", "imagee: i", 1),
			[]string{`unknown field "spec.containers[0].imagee"`}},
		{"unknown top-level field", ok + "status2: {}\n", []string{`unknown field "status2"`}},
		{"duplicate field", strings.Replace(ok, "name: p\n", "name: p\n  name: q\n", 1),
			[]string{`key "name" already set`}},
		{"wrong type", strings.Replace(ok, "image: i\n", "image: i\n    securityContext:\n      runAsUser: root\n", 1),
			[]string{"spec.containers.securityContext.runAsUser", "int64"}},
		{"not a pod", "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n",
			[]string{"kind Service", "runs only kind Pod"}},
		{"no apiVersion", "kind: Pod\nmetadata:\n  name: p\n", []string{"apiVersion"}},
		{"two documents", ok + "---\n" + ok, []string{"2 objects in manifest"}},
		{"only comments", "# nothing here\n", []string{"no object in manifest"}},
		{"no containers", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec: {}\n",
			[]string{"spec.containers: Required value"}},
		{"no image", strings.Replace(ok, "    image: i\n", "", 1),
			[]string{"spec.containers[0].image: Required value"}},
		{"no name", strings.Replace(ok, "  name: p\n", "  labels: {a: b}\n", 1),
			[]string{"metadata.name: Required value"}},
		{"duplicate container", strings.Replace(ok, "spec:\n", "spec:\n  initContainers:\n  - name: c\n    image: i\n", 1),
			[]string{`spec.containers[0].name: Duplicate value: "c"`}},
		{"volumes", ok + "  volumes:\n  - name: v\n    emptyDir: {}\n",
			[]string{"spec.volumes[0]: Forbidden: podrun mounts no volumes"}},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadManifest(path)
			if err == nil {
				t.Fatal("LoadManifest: no error")
			}
			if !IsManifestError(err) {
				t.Errorf("error %v is not a *ManifestError", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, path+": ") {
				t.Errorf("error %q does not start with the file name", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}

	t.Run("unreadable", func(t *testing.T) {
		path := filepath.Join(dir, "missing.yaml")
		_, err := LoadManifest(path)
		if !IsManifestError(err) || !strings.HasPrefix(err.Error(), path+": ") {
			t.Errorf("LoadManifest(missing) = %v, want a *ManifestError naming the file", err)
		}
	})
}

func TestParseIDRange(t *testing.T) {
	tests := []struct {
		in      string
		want    IDRange
		wantErr bool
	}{
		{in: "1000650000/10000", want: IDRange{First: 1000650000, Last: 1000659999}},
		{in: "1000650000-1000659999", want: IDRange{First: 1000650000, Last: 1000659999}},
		{in: "5/1", want: IDRange{First: 5, Last: 5}},
		{in: "5/0", wantErr: true},
		{in: "9-5", wantErr: true},
		{in: "abc", wantErr: true},
		{in: "-1/5", wantErr: true},
		{in: "4294967296/1", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseIDRange(tt.in)
		if (err != nil) != tt.wantErr || (!tt.wantErr && got != tt.want) {
			t.Errorf("ParseIDRange(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
	if r := (IDRange{First: 1000650000, Last: 1000659999}); !r.ContainsID(1000659999) || r.ContainsID(1000660000) || r.ContainsID(-1) {
		t.Errorf("IDRange bounds wrong: %v", r)
	}
}

func TestRewriteImage(t *testing.T) {
	explicit, err := ParseImageRule("registry.fedoraproject.org/fedora:35-x86_64=localhost/mine:1")
	if err != nil {
		t.Fatal(err)
	}
	rules := append([]ImageRule{explicit}, DefaultImageRules...)
	tests := []struct{ in, want string }{
		{"registry.fedoraproject.org/fedora:35-x86_64", "localhost/mine:1"},
		{"registry.fedoraproject.org/fedora:36", "localhost/crio-userns/fedora-standin:latest"},
		{"quay.io/ftweedal/test-multiuser:latest", "localhost/crio-userns/usernstest:latest"},
		{"quay.io/other/image", "quay.io/other/image"},
	}
	for _, tt := range tests {
		if got := RewriteImage(rules, tt.in); got != tt.want {
			t.Errorf("RewriteImage(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for _, bad := range []string{"noequals", "=to", "from="} {
		if _, err := ParseImageRule(bad); err == nil {
			t.Errorf("ParseImageRule(%q): no error", bad)
		}
	}
}
