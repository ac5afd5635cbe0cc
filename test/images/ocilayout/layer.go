package ocilayout

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Epoch is the modification time of every layer entry. A fixed time keeps the
// layer digest independent of when (and from which checkout) it was built.
var Epoch = time.Unix(0, 0).UTC()

// layerDigests is what writing a layer yields: the digest of the compressed
// blob (the manifest's view) and of the uncompressed tar (the config's diff_id).
type layerDigests struct {
	Digest string
	DiffID string
	Size   int64
}

// writeLayer writes entries (already in archive order, see layerEntries) as
// a gzip'd tar to w. Owners are 0:0 with no user or group names, so the layer
// means the same inside any user namespace.
func writeLayer(w io.Writer, entries []Entry) (layerDigests, error) {
	compressed := sha256.New()
	counter := &countingWriter{w: io.MultiWriter(w, compressed)}
	// gzip.NewWriter leaves the header's name and mtime empty and uses a
	// fixed OS byte, so identical input gives identical output.
	zw, err := gzip.NewWriterLevel(counter, gzip.DefaultCompression)
	if err != nil {
		return layerDigests{}, fmt.Errorf("gzip writer: %w", err)
	}
	uncompressed := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(zw, uncompressed))
	for _, e := range entries {
		if err := writeEntry(tw, e); err != nil {
			return layerDigests{}, fmt.Errorf("layer entry %s: %w", e.Path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return layerDigests{}, fmt.Errorf("closing tar: %w", err)
	}
	if err := zw.Close(); err != nil {
		return layerDigests{}, fmt.Errorf("closing gzip: %w", err)
	}
	return layerDigests{
		Digest: sha256Digest(compressed.Sum(nil)),
		DiffID: sha256Digest(uncompressed.Sum(nil)),
		Size:   counter.n,
	}, nil
}

// compressLayer gzips the tar at tarPath to w.
func compressLayer(w io.Writer, tarPath string) (layerDigests, error) {
	in, err := os.Open(tarPath)
	if err != nil {
		return layerDigests{}, fmt.Errorf("opening layer tar: %w", err)
	}
	defer in.Close()
	compressed := sha256.New()
	counter := &countingWriter{w: io.MultiWriter(w, compressed)}
	zw, err := gzip.NewWriterLevel(counter, gzip.BestSpeed)
	if err != nil {
		return layerDigests{}, fmt.Errorf("gzip writer: %w", err)
	}
	uncompressed := sha256.New()
	if _, err := io.Copy(io.MultiWriter(zw, uncompressed), in); err != nil {
		return layerDigests{}, fmt.Errorf("compressing %s: %w", tarPath, err)
	}
	if err := zw.Close(); err != nil {
		return layerDigests{}, fmt.Errorf("closing gzip: %w", err)
	}
	return layerDigests{Digest: sha256Digest(compressed.Sum(nil)), DiffID: sha256Digest(uncompressed.Sum(nil)), Size: counter.n}, nil
}

func writeEntry(tw *tar.Writer, e Entry) error {
	hdr := &tar.Header{
		// Layer paths are relative ("usr/bin/x"), as docker and buildah write them.
		Name:    strings.TrimPrefix(e.Path, "/"),
		Mode:    int64(e.Mode), // tar and chmod(1) share the bit layout
		ModTime: Epoch,
		Uid:     0,
		Gid:     0,
		Format:  tar.FormatPAX,
	}
	switch e.Type {
	case TypeDir:
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
		return tw.WriteHeader(hdr)
	case TypeSymlink:
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = e.Target
		return tw.WriteHeader(hdr)
	case TypeFile:
		hdr.Typeflag = tar.TypeReg
		if e.Source == "" {
			hdr.Size = int64(len(e.Content))
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			_, err := tw.Write(e.Content)
			return err
		}
		return copyHostFile(tw, hdr, e.Source)
	}
	return fmt.Errorf("unknown entry type %v", e.Type)
}

func copyHostFile(tw *tar.Writer, hdr *tar.Header, src string) error {
	f, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("opening source: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat source: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("source %s is not a regular file (%v)", src, st.Mode().Type())
	}
	hdr.Size = st.Size()
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	n, err := io.Copy(tw, f)
	if err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	if n != hdr.Size {
		return fmt.Errorf("source %s changed size while copying (%d, then %d bytes)", src, hdr.Size, n)
	}
	return nil
}

func sha256Digest(sum []byte) string {
	return "sha256:" + hex.EncodeToString(sum)
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
