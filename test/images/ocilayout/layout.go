package ocilayout

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Result describes a written layout.
type Result struct {
	Dir      string
	Tag      string
	Manifest Descriptor // as listed in index.json (with the ref.name annotation)
	Config   Descriptor
	Layer    Descriptor
	DiffID   string
}

// Size is the number of bytes of all blobs of the image.
func (r Result) Size() int64 { return r.Manifest.Size + r.Config.Size + r.Layer.Size }

// Write writes img as a fresh OCI image layout at dir, replacing whatever dir
// held. The layout is assembled in a sibling temporary directory and renamed
// into place, so dir never holds a half-written layout that skopeo could load.
func Write(dir string, img Image) (Result, error) {
	entries, err := img.layerEntries()
	if err != nil {
		return Result{}, fmt.Errorf("image %s: %w", img.Tag, err)
	}
	dir = filepath.Clean(dir)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return Result{}, fmt.Errorf("creating parent of %s: %w", dir, err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return Result{}, fmt.Errorf("creating temporary layout dir: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	// MkdirTemp makes 0700; the layout is read by skopeo as root, but keep it
	// world-readable like any build output.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return Result{}, fmt.Errorf("chmod %s: %w", tmp, err)
	}
	res, err := writeLayout(tmp, img, entries)
	if err != nil {
		return Result{}, fmt.Errorf("writing layout for %s: %w", img.Tag, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return Result{}, fmt.Errorf("removing old layout %s: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return Result{}, fmt.Errorf("moving layout into place at %s: %w", dir, err)
	}
	res.Dir = dir
	return res, nil
}

func writeLayout(dir string, img Image, entries []Entry) (Result, error) {
	blobs := filepath.Join(dir, BlobsDir, "sha256")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		return Result{}, fmt.Errorf("creating %s: %w", blobs, err)
	}
	layer, err := writeLayerBlob(blobs, entries, img.LayerTar)
	if err != nil {
		return Result{}, err
	}
	plat := img.platform()
	cfg := ImageConfig{
		Created:      img.Created,
		Architecture: plat.Architecture,
		OS:           plat.OS,
		Config: RuntimeConfig{
			User:       img.Config.User,
			Env:        img.Config.Env,
			Entrypoint: img.Config.Entrypoint,
			Cmd:        img.Config.Cmd,
			WorkingDir: img.Config.WorkingDir,
			Labels:     img.Config.Labels,
			StopSignal: img.Config.StopSignal,
		},
		RootFS:  RootFS{Type: "layers", DiffIDs: []string{layer.DiffID}},
		History: []History{{Created: img.Created, CreatedBy: "crio-userns test/images/ocilayout"}},
	}
	cfgDesc, err := writeJSONBlob(blobs, MediaTypeImageConfig, cfg)
	if err != nil {
		return Result{}, fmt.Errorf("config: %w", err)
	}
	layerDesc := Descriptor{MediaType: MediaTypeImageLayerGzip, Digest: layer.Digest, Size: layer.Size}
	man := Manifest{
		SchemaVersion: 2,
		MediaType:     MediaTypeImageManifest,
		Config:        cfgDesc,
		Layers:        []Descriptor{layerDesc},
	}
	manDesc, err := writeJSONBlob(blobs, MediaTypeImageManifest, man)
	if err != nil {
		return Result{}, fmt.Errorf("manifest: %w", err)
	}
	manDesc.Annotations = map[string]string{AnnotationRefName: img.Tag}
	manDesc.Platform = &plat
	idx := Index{SchemaVersion: 2, MediaType: MediaTypeImageIndex, Manifests: []Descriptor{manDesc}}
	if err := writeJSONFile(filepath.Join(dir, IndexFile), idx); err != nil {
		return Result{}, err
	}
	if err := writeJSONFile(filepath.Join(dir, LayoutFile), LayoutMarker{Version: LayoutVersion}); err != nil {
		return Result{}, err
	}
	return Result{Tag: img.Tag, Manifest: manDesc, Config: cfgDesc, Layer: layerDesc, DiffID: layer.DiffID}, nil
}

// writeLayerBlob streams the layer to a temporary file in blobs and renames it
// to its digest once known, so large host files are never held in memory.
func writeLayerBlob(blobs string, entries []Entry, tarPath string) (layerDigests, error) {
	f, err := os.CreateTemp(blobs, ".layer-")
	if err != nil {
		return layerDigests{}, fmt.Errorf("creating layer blob: %w", err)
	}
	defer os.Remove(f.Name()) // a no-op once renamed
	var layer layerDigests
	if tarPath != "" {
		layer, err = compressLayer(f, tarPath)
	} else {
		layer, err = writeLayer(f, entries)
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("closing layer blob: %w", cerr)
	}
	if err != nil {
		return layerDigests{}, err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return layerDigests{}, fmt.Errorf("chmod layer blob: %w", err)
	}
	if err := os.Rename(f.Name(), blobPath(blobs, layer.Digest)); err != nil {
		return layerDigests{}, fmt.Errorf("naming layer blob: %w", err)
	}
	return layer, nil
}

func writeJSONBlob(blobs, mediaType string, v any) (Descriptor, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return Descriptor{}, fmt.Errorf("encoding %s: %w", mediaType, err)
	}
	sum := sha256.Sum256(data)
	d := Descriptor{MediaType: mediaType, Digest: sha256Digest(sum[:]), Size: int64(len(data))}
	if err := os.WriteFile(blobPath(blobs, d.Digest), data, 0o644); err != nil {
		return Descriptor{}, fmt.Errorf("writing %s blob: %w", mediaType, err)
	}
	return d, nil
}

func writeJSONFile(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", filepath.Base(path), err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

func blobPath(blobs, digest string) string {
	return filepath.Join(blobs, strings.TrimPrefix(digest, "sha256:"))
}

// ReadIndex returns the manifest descriptor that dir's index.json lists for
// tag. Callers that skip rebuilding an unchanged layout use it to learn the
// digest without writing anything.
func ReadIndex(dir, tag string) (Descriptor, error) {
	data, err := os.ReadFile(filepath.Join(dir, IndexFile))
	if err != nil {
		return Descriptor{}, fmt.Errorf("reading layout index: %w", err)
	}
	var idx Index
	if err := json.Unmarshal(data, &idx); err != nil {
		return Descriptor{}, fmt.Errorf("parsing %s: %w", filepath.Join(dir, IndexFile), err)
	}
	for _, m := range idx.Manifests {
		if m.Annotations[AnnotationRefName] == tag {
			return m, nil
		}
	}
	return Descriptor{}, fmt.Errorf("layout %s: %w: %q", dir, ErrNoSuchTag, tag)
}

// ErrNoSuchTag is returned by ReadIndex when no manifest carries the tag.
var ErrNoSuchTag = errors.New("no manifest with ref.name")
