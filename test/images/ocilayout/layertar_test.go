package ocilayout

import (
	"archive/tar"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A prebuilt tar (a root file system from mmdebstrap) becomes the layer byte
// for byte: owners, modes and device nodes as the tar has them.
func TestWriteLayerTar(t *testing.T) {
	dir := t.TempDir()
	tarPath := filepath.Join(dir, "root.tar")
	f, _ := os.Create(tarPath)
	tw := tar.NewWriter(f)
	tw.WriteHeader(&tar.Header{Name: "var/spool/mail/", Typeflag: tar.TypeDir, Mode: 0o2775, Uid: 0, Gid: 8})
	tw.WriteHeader(&tar.Header{Name: "dev/null", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3})
	tw.Close()
	f.Close()

	img := Image{Tag: "latest", LayerTar: tarPath, Config: Config{Cmd: []string{"/sbin/init"}, StopSignal: "SIGRTMIN+3"}}
	res, err := Write(filepath.Join(dir, "layout"), img)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := os.Open(filepath.Join(dir, "layout", BlobsDir, "sha256", res.Layer.Digest[len("sha256:"):]))
	if err != nil {
		t.Fatal(err)
	}
	defer blob.Close()
	zr, err := gzip.NewReader(blob)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	h1, _ := tr.Next()
	h2, _ := tr.Next()
	if h1 == nil || h1.Gid != 8 || h1.Mode != 0o2775 || h2 == nil || h2.Typeflag != tar.TypeChar || h2.Devminor != 3 {
		t.Errorf("layer entries %+v %+v", h1, h2)
	}
	read, err := Read(filepath.Join(dir, "layout"), "latest")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(filepath.Join(dir, "layout", BlobsDir, "sha256", read.Config.Digest[len("sha256:"):]))
	if err != nil || !strings.Contains(string(cfg), `"StopSignal":"SIGRTMIN+3"`) {
		t.Errorf("config %s (%v)", cfg, err)
	}
	fp1, _ := Fingerprint(img)
	os.WriteFile(tarPath, []byte("changed"), 0o644)
	fp2, _ := Fingerprint(img)
	if fp1 == fp2 {
		t.Errorf("the fingerprint does not follow the tar's content")
	}
	if _, err := Write(filepath.Join(dir, "x"), Image{Tag: "t", LayerTar: tarPath, Entries: []Entry{Dir("/a", 0o755)}}); err == nil {
		t.Errorf("a layer tar with entries was accepted")
	}
}
