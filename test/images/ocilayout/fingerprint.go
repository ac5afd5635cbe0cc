package ocilayout

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// writerVersion changes whenever the writer's output for a given description
// changes (tar format, compression level, config fields), so that fingerprints
// taken by an older writer no longer match.
const writerVersion = "ocilayout/1"

// Fingerprint is a content hash of everything Write would put into the
// layout: the normalised entries with the bytes of their files (host sources
// are read and hashed), the configuration and the writer's version. Equal
// fingerprints mean Write would produce the same layout, so a builder can
// keep a layout whose recorded fingerprint still matches.
func Fingerprint(img Image) (string, error) {
	entries, err := img.layerEntries()
	if err != nil {
		return "", fmt.Errorf("image %s: %w", img.Tag, err)
	}
	type fpEntry struct {
		Path, Target string
		Type         EntryType
		Mode         uint32
		Content      string // sha256 of the file's bytes
	}
	fp := struct {
		Writer   string
		Tag      string
		Platform Platform
		Created  string
		Config   Config
		Entries  []fpEntry
		LayerTar string `json:",omitempty"` // sha256 of the tar's bytes
	}{Writer: writerVersion, Tag: img.Tag, Platform: img.platform(), Created: img.Created, Config: img.Config}
	if img.LayerTar != "" {
		if fp.LayerTar, err = contentHash(Entry{Source: img.LayerTar}); err != nil {
			return "", fmt.Errorf("image %s: layer tar: %w", img.Tag, err)
		}
	}
	for _, e := range entries {
		fe := fpEntry{Path: e.Path, Target: e.Target, Type: e.Type, Mode: uint32(e.Mode)}
		if e.Type == TypeFile {
			if fe.Content, err = contentHash(e); err != nil {
				return "", fmt.Errorf("image %s: entry %s: %w", img.Tag, e.Path, err)
			}
		}
		fp.Entries = append(fp.Entries, fe)
	}
	data, err := json.Marshal(fp)
	if err != nil {
		return "", fmt.Errorf("encoding fingerprint of %s: %w", img.Tag, err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

func contentHash(e Entry) (string, error) {
	h := sha256.New()
	if e.Source == "" {
		h.Write(e.Content)
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	f, err := os.Open(e.Source)
	if err != nil {
		return "", fmt.Errorf("opening source: %w", err)
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("reading %s: %w", e.Source, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
