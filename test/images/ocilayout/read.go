package ocilayout

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Read returns the description of the image tagged tag in the layout at dir,
// after checking that its manifest, config and layer blobs are present with
// the sizes their descriptors give. It is the cheap check a builder makes
// before reusing a layout it wrote earlier; it does not re-hash the blobs.
func Read(dir, tag string) (Result, error) {
	man, err := ReadIndex(dir, tag)
	if err != nil {
		return Result{}, err
	}
	blobs := filepath.Join(dir, BlobsDir, "sha256")
	if err := checkBlob(blobs, man); err != nil {
		return Result{}, err
	}
	data, err := os.ReadFile(blobPath(blobs, man.Digest))
	if err != nil {
		return Result{}, fmt.Errorf("reading manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return Result{}, fmt.Errorf("parsing manifest %s: %w", man.Digest, err)
	}
	if len(m.Layers) != 1 {
		return Result{}, fmt.Errorf("manifest %s has %d layers; this package writes exactly one", man.Digest, len(m.Layers))
	}
	for _, d := range []Descriptor{m.Config, m.Layers[0]} {
		if err := checkBlob(blobs, d); err != nil {
			return Result{}, err
		}
	}
	var cfg ImageConfig
	data, err = os.ReadFile(blobPath(blobs, m.Config.Digest))
	if err != nil {
		return Result{}, fmt.Errorf("reading config: %w", err)
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return Result{}, fmt.Errorf("parsing config %s: %w", m.Config.Digest, err)
	}
	if len(cfg.RootFS.DiffIDs) != 1 {
		return Result{}, fmt.Errorf("config %s has %d diff_ids, want 1", m.Config.Digest, len(cfg.RootFS.DiffIDs))
	}
	return Result{Dir: dir, Tag: tag, Manifest: man, Config: m.Config, Layer: m.Layers[0], DiffID: cfg.RootFS.DiffIDs[0]}, nil
}

func checkBlob(blobs string, d Descriptor) error {
	st, err := os.Stat(blobPath(blobs, d.Digest))
	if err != nil {
		return fmt.Errorf("blob %s (%s): %w", d.Digest, d.MediaType, err)
	}
	if st.Size() != d.Size {
		return fmt.Errorf("blob %s (%s): %d bytes, descriptor says %d", d.Digest, d.MediaType, st.Size(), d.Size)
	}
	return nil
}
