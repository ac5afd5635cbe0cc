package ocilayout

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/crio-userns/crio-userns/internal/testenv"
)

func sampleImage(t *testing.T) Image {
	t.Helper()
	src := filepath.Join(t.TempDir(), "hostfile")
	if err := os.WriteFile(src, []byte("from the host\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return Image{
		Tag: "latest",
		Entries: []Entry{
			HostFile("/usr/bin/tool", 0o755, src),
			File("/etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\n")),
			Symlink("/bin/sh", "busybox"),
			Dir("/tmp", 0o1777),
		},
		Config: Config{
			Entrypoint: []string{"/usr/bin/tool"},
			Cmd:        []string{"--flag"},
			Env:        []string{"PATH=/usr/bin:/bin"},
			User:       "0",
			WorkingDir: "/",
		},
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestWriteDigestsMatchContents(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "layout")
	res, err := Write(dir, sampleImage(t))
	if err != nil {
		t.Fatal(err)
	}
	var marker LayoutMarker
	readJSON(t, filepath.Join(dir, LayoutFile), &marker)
	if marker.Version != LayoutVersion {
		t.Errorf("oci-layout version %q, want %q", marker.Version, LayoutVersion)
	}
	var idx Index
	readJSON(t, filepath.Join(dir, IndexFile), &idx)
	if len(idx.Manifests) != 1 || !reflect.DeepEqual(idx.Manifests[0], res.Manifest) {
		t.Fatalf("index manifests %+v, want [%+v]", idx.Manifests, res.Manifest)
	}
	if got := idx.Manifests[0].Annotations[AnnotationRefName]; got != "latest" {
		t.Errorf("ref.name %q, want latest", got)
	}

	// Every file in blobs/sha256 is named by the sha256 of its bytes, and each
	// descriptor's size is the blob's size.
	blobs, err := os.ReadDir(filepath.Join(dir, BlobsDir, "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	if len(blobs) != 3 {
		t.Errorf("%d blobs, want 3 (manifest, config, layer)", len(blobs))
	}
	for _, b := range blobs {
		data, err := os.ReadFile(filepath.Join(dir, BlobsDir, "sha256", b.Name()))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != b.Name() {
			t.Errorf("blob %s has sha256 %s", b.Name(), got)
		}
	}
	for name, d := range map[string]Descriptor{"manifest": res.Manifest, "config": res.Config, "layer": res.Layer} {
		st, err := os.Stat(blobPath(filepath.Join(dir, BlobsDir, "sha256"), d.Digest))
		if err != nil {
			t.Errorf("%s blob: %v", name, err)
			continue
		}
		if st.Size() != d.Size {
			t.Errorf("%s descriptor size %d, blob has %d bytes", name, d.Size, st.Size())
		}
	}

	var man Manifest
	readJSON(t, blobPath(filepath.Join(dir, BlobsDir, "sha256"), res.Manifest.Digest), &man)
	if !reflect.DeepEqual(man.Config, res.Config) || len(man.Layers) != 1 || man.Layers[0].Digest != res.Layer.Digest {
		t.Errorf("manifest %+v does not point at config %s and layer %s", man, res.Config.Digest, res.Layer.Digest)
	}
	var cfg ImageConfig
	readJSON(t, blobPath(filepath.Join(dir, BlobsDir, "sha256"), res.Config.Digest), &cfg)
	if !reflect.DeepEqual(cfg.RootFS.DiffIDs, []string{res.DiffID}) {
		t.Errorf("config diff_ids %v, want [%s]", cfg.RootFS.DiffIDs, res.DiffID)
	}
	if cfg.Config.Entrypoint[0] != "/usr/bin/tool" || cfg.Config.Env[0] != "PATH=/usr/bin:/bin" {
		t.Errorf("config %+v lost the runtime config", cfg.Config)
	}

	// The diff_id is the sha256 of the uncompressed layer.
	f, err := os.Open(blobPath(filepath.Join(dir, BlobsDir, "sha256"), res.Layer.Digest))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, zr); err != nil {
		t.Fatal(err)
	}
	if got := sha256Digest(h.Sum(nil)); got != res.DiffID {
		t.Errorf("uncompressed layer sha256 %s, diff_id %s", got, res.DiffID)
	}
}

type tarEntry struct {
	Name, Link string
	Type       byte
	Mode       int64
	Size       int64
	Body       string
}

func readLayer(t *testing.T, res Result) []tarEntry {
	t.Helper()
	f, err := os.Open(blobPath(filepath.Join(res.Dir, BlobsDir, "sha256"), res.Layer.Digest))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var out []tarEntry
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Uid != 0 || hdr.Gid != 0 || hdr.Uname != "" || hdr.Gname != "" {
			t.Errorf("%s: owner %d:%d (%q:%q), want 0:0 without names", hdr.Name, hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname)
		}
		if !hdr.ModTime.Equal(Epoch) {
			t.Errorf("%s: mtime %v, want %v", hdr.Name, hdr.ModTime, Epoch)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tarEntry{hdr.Name, hdr.Linkname, hdr.Typeflag, hdr.Mode, hdr.Size, string(body)})
	}
}

func TestLayerContents(t *testing.T) {
	res, err := Write(filepath.Join(t.TempDir(), "layout"), sampleImage(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []tarEntry{
		{Name: "bin/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "bin/sh", Link: "busybox", Type: tar.TypeSymlink, Mode: 0o777},
		{Name: "etc/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "etc/passwd", Type: tar.TypeReg, Mode: 0o644, Size: 30, Body: "root:x:0:0:root:/root:/bin/sh\n"},
		{Name: "tmp/", Type: tar.TypeDir, Mode: 0o1777},
		{Name: "usr/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "usr/bin/", Type: tar.TypeDir, Mode: 0o755},
		// The host file is 0600; the entry's mode wins.
		{Name: "usr/bin/tool", Type: tar.TypeReg, Mode: 0o755, Size: 14, Body: "from the host\n"},
	}
	if got := readLayer(t, res); !reflect.DeepEqual(got, want) {
		t.Errorf("layer entries:\n got %+v\nwant %+v", got, want)
	}
}

func TestWriteIsDeterministic(t *testing.T) {
	img := sampleImage(t)
	first, err := Write(filepath.Join(t.TempDir(), "a"), img)
	if err != nil {
		t.Fatal(err)
	}
	// Same description, entries in reverse order, written elsewhere later.
	rev := img
	rev.Entries = nil
	for i := len(img.Entries) - 1; i >= 0; i-- {
		rev.Entries = append(rev.Entries, img.Entries[i])
	}
	second, err := Write(filepath.Join(t.TempDir(), "b"), rev)
	if err != nil {
		t.Fatal(err)
	}
	if first.Manifest.Digest != second.Manifest.Digest || first.Layer.Digest != second.Layer.Digest {
		t.Errorf("digests differ: %s/%s vs %s/%s", first.Manifest.Digest, first.Layer.Digest, second.Manifest.Digest, second.Layer.Digest)
	}
	fa, err := Fingerprint(img)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := Fingerprint(rev)
	if err != nil {
		t.Fatal(err)
	}
	if fa != fb {
		t.Errorf("fingerprints differ for the same image: %s vs %s", fa, fb)
	}
}

// TestFingerprintTracksInputs checks that every kind of change that alters the
// written layout also alters the fingerprint.
func TestFingerprintTracksInputs(t *testing.T) {
	base := sampleImage(t)
	baseFP, err := Fingerprint(base)
	if err != nil {
		t.Fatal(err)
	}
	baseRes, err := Write(filepath.Join(t.TempDir(), "base"), base)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(img *Image)
	}{
		{"tag", func(img *Image) { img.Tag = "v2" }},
		{"content", func(img *Image) { img.Entries[1].Content = []byte("root:x:0:0::/:/bin/sh\n") }},
		{"mode", func(img *Image) { img.Entries[1].Mode = 0o600 }},
		{"symlink target", func(img *Image) { img.Entries[2].Target = "/bin/busybox" }},
		{"env", func(img *Image) { img.Config.Env = []string{"PATH=/bin"} }},
		{"cmd", func(img *Image) { img.Config.Cmd = nil }},
		{"host file bytes", func(img *Image) {
			src := filepath.Join(t.TempDir(), "other")
			if err := os.WriteFile(src, []byte("changed\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			img.Entries[0].Source = src
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := base
			img.Entries = append([]Entry(nil), base.Entries...)
			tt.change(&img)
			fp, err := Fingerprint(img)
			if err != nil {
				t.Fatal(err)
			}
			if fp == baseFP {
				t.Errorf("fingerprint unchanged")
			}
			res, err := Write(filepath.Join(t.TempDir(), "layout"), img)
			if err != nil {
				t.Fatal(err)
			}
			// The tag lives only in index.json, so compare the whole index
			// entry rather than just the manifest digest.
			if reflect.DeepEqual(res.Manifest, baseRes.Manifest) {
				t.Errorf("index entry unchanged: %+v", res.Manifest)
			}
		})
	}
}

func TestWriteRejectsBadDescriptions(t *testing.T) {
	tests := []struct {
		name    string
		entries []Entry
		tag     string
		want    string
	}{
		{"relative path", []Entry{File("etc/passwd", 0o644, nil)}, "t", "want an absolute path"},
		{"unclean path", []Entry{File("/etc/../passwd", 0o644, nil)}, "t", "not clean"},
		{"root", []Entry{Dir("/", 0o755)}, "t", "below /"},
		{"duplicate", []Entry{Dir("/etc", 0o755), Dir("/etc", 0o700)}, "t", "duplicate path /etc"},
		{"file under file", []Entry{File("/a", 0o644, nil), File("/a/b", 0o644, nil)}, "t", "parent /a is a file"},
		{"symlink without target", []Entry{{Path: "/x", Type: TypeSymlink}}, "t", "no target"},
		{"type bits in mode", []Entry{{Path: "/x", Type: TypeFile, Mode: 0o40755}}, "t", "beyond 07777"},
		{"content and source", []Entry{{Path: "/x", Type: TypeFile, Content: []byte("a"), Source: "/etc/hostname"}}, "t", "both Content and Source"},
		{"no tag", []Entry{File("/a", 0o644, nil)}, "", "no tag"},
		{"missing source", []Entry{HostFile("/a", 0o644, "/nonexistent/file")}, "t", "opening source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "layout")
			_, err := Write(dir, Image{Tag: tt.tag, Entries: tt.entries})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Write error %v, want one containing %q", err, tt.want)
			}
			// A failed write leaves nothing behind, not even the temporary dir.
			if left, _ := os.ReadDir(filepath.Dir(dir)); len(left) != 0 {
				t.Errorf("failed write left %v", left)
			}
		})
	}
}

func TestWriteReplacesExistingLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "layout")
	img := sampleImage(t)
	if _, err := Write(dir, img); err != nil {
		t.Fatal(err)
	}
	img.Config.Cmd = []string{"other"}
	res, err := Write(dir, img)
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := os.ReadDir(filepath.Join(dir, BlobsDir, "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	if len(blobs) != 3 {
		t.Errorf("rewritten layout has %d blobs, want 3 (old blobs must go)", len(blobs))
	}
	got, err := ReadIndex(dir, "latest")
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != res.Manifest.Digest {
		t.Errorf("ReadIndex digest %s, want %s", got.Digest, res.Manifest.Digest)
	}
	if _, err := ReadIndex(dir, "nope"); !errors.Is(err, ErrNoSuchTag) {
		t.Errorf("ReadIndex(nope) error %v, want ErrNoSuchTag", err)
	}
}

// TestSkopeoAcceptsLayout checks the layout with the consumer the node bench
// uses, skopeo (containers/image), not just with this package's own reader.
func TestSkopeoAcceptsLayout(t *testing.T) {
	skopeo := testenv.RequireTool(t, "skopeo", "skopeo")
	dir := filepath.Join(t.TempDir(), "layout")
	res, err := Write(dir, sampleImage(t))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(skopeo, "inspect", "oci:"+dir+":latest").Output()
	if err != nil {
		t.Fatalf("skopeo inspect oci:%s:latest: %v\n%s", dir, err, stderrOf(err))
	}
	var got struct {
		Digest       string
		Architecture string
		Os           string
		Layers       []string
		Env          []string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("skopeo output %s: %v", out, err)
	}
	if got.Digest != res.Manifest.Digest {
		t.Errorf("skopeo digest %s, want %s", got.Digest, res.Manifest.Digest)
	}
	if !reflect.DeepEqual(got.Layers, []string{res.Layer.Digest}) {
		t.Errorf("skopeo layers %v, want [%s]", got.Layers, res.Layer.Digest)
	}
	if !reflect.DeepEqual(got.Env, []string{"PATH=/usr/bin:/bin"}) {
		t.Errorf("skopeo env %v", got.Env)
	}
	if got.Os != "linux" || got.Architecture == "" {
		t.Errorf("skopeo platform %s/%s", got.Os, got.Architecture)
	}
	// --config shows the image config blob itself.
	out, err = exec.Command(skopeo, "inspect", "--config", "oci:"+dir+":latest").Output()
	if err != nil {
		t.Fatalf("skopeo inspect --config: %v\n%s", err, stderrOf(err))
	}
	var cfg ImageConfig
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg.Config.Entrypoint, []string{"/usr/bin/tool"}) || cfg.Config.User != "0" {
		t.Errorf("skopeo config %+v", cfg.Config)
	}
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}

func TestRead(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "layout")
	want, err := Write(dir, sampleImage(t))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Read(dir, "latest")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Read:\n got %+v\nwant %+v", got, want)
	}
	// A truncated layer is noticed, so a builder rewrites the layout.
	if err := os.Truncate(blobPath(filepath.Join(dir, BlobsDir, "sha256"), want.Layer.Digest), 10); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(dir, "latest"); err == nil || !strings.Contains(err.Error(), "descriptor says") {
		t.Errorf("Read of truncated layout: error %v, want a size mismatch", err)
	}
}
