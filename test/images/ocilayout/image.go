// Package ocilayout writes single-layer OCI image layouts from an in-memory
// description, byte-for-byte reproducibly: the same description (and the same
// host source files) always gives the same manifest digest, so test images can
// be rebuilt freely without churning the node's image store.
package ocilayout

import (
	"fmt"
	"path"
	"runtime"
	"sort"
	"strings"
)

// EntryType says what an Entry creates in the image's root filesystem.
type EntryType int

// Entry types.
const (
	TypeFile EntryType = iota
	TypeDir
	TypeSymlink
)

func (t EntryType) String() string {
	switch t {
	case TypeFile:
		return "file"
	case TypeDir:
		return "dir"
	case TypeSymlink:
		return "symlink"
	}
	return fmt.Sprintf("EntryType(%d)", int(t))
}

// Entry is one path in the layer. Files take their bytes from Content, or,
// when Source is set, from that host file (read when the layer is written).
type Entry struct {
	Path    string // absolute path in the image, e.g. "/usr/bin/usernstest"
	Type    EntryType
	Mode    uint32 // chmod(1) bits, e.g. 0o1777 for /tmp; the file type comes from Type
	Content []byte // TypeFile without Source
	Source  string // TypeFile: host path to copy from
	Target  string // TypeSymlink: link target, stored verbatim
}

// File is an Entry for a regular file with the given content.
func File(p string, mode uint32, content []byte) Entry {
	return Entry{Path: p, Type: TypeFile, Mode: mode, Content: content}
}

// HostFile is an Entry for a regular file copied from the host path src.
func HostFile(p string, mode uint32, src string) Entry {
	return Entry{Path: p, Type: TypeFile, Mode: mode, Source: src}
}

// Dir is an Entry for a directory.
func Dir(p string, mode uint32) Entry {
	return Entry{Path: p, Type: TypeDir, Mode: mode}
}

// Symlink is an Entry for a symbolic link p -> target.
func Symlink(p, target string) Entry {
	return Entry{Path: p, Type: TypeSymlink, Mode: 0o777, Target: target}
}

// Config is the part of the image configuration a container starts from.
type Config struct {
	Entrypoint []string
	Cmd        []string
	Env        []string
	User       string
	WorkingDir string
	Labels     map[string]string
	StopSignal string
}

// Image describes a single-layer image. Architecture and OS default to the
// running program's GOARCH and GOOS, since the test binaries are built for the
// machine the node runs on.
type Image struct {
	Tag          string // index.json ref.name, the TAG of oci:DIR:TAG
	Architecture string
	OS           string
	Created      string // RFC 3339; empty leaves "created" out, keeping digests time-independent
	Entries      []Entry
	// LayerTar, if set, is an uncompressed tar used as the layer as it is
	// (owners, modes, device nodes and all), e.g. a root file system from
	// mmdebstrap; Entries must then be empty.
	LayerTar string
	Config   Config
}

func (img Image) platform() Platform {
	p := Platform{Architecture: img.Architecture, OS: img.OS}
	if p.Architecture == "" {
		p.Architecture = runtime.GOARCH
	}
	if p.OS == "" {
		p.OS = runtime.GOOS
	}
	return p
}

// layerEntries validates the entries and returns them in archive order: with
// every missing parent directory added (0755, as a Dockerfile COPY would make
// them) and sorted by path, so that the input order never changes the digest.
func (img Image) layerEntries() ([]Entry, error) {
	if img.Tag == "" {
		return nil, fmt.Errorf("image has no tag")
	}
	if img.LayerTar != "" && len(img.Entries) > 0 {
		return nil, fmt.Errorf("image has both a layer tar and entries")
	}
	byPath := make(map[string]Entry, len(img.Entries))
	for i, e := range img.Entries {
		clean, err := cleanPath(e.Path)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		e.Path = clean
		if err := e.validate(); err != nil {
			return nil, fmt.Errorf("entry %d (%s): %w", i, clean, err)
		}
		if _, dup := byPath[clean]; dup {
			return nil, fmt.Errorf("entry %d: duplicate path %s", i, clean)
		}
		byPath[clean] = e
	}
	for p := range byPath {
		for dir := path.Dir(p); dir != "/"; dir = path.Dir(dir) {
			parent, ok := byPath[dir]
			if !ok {
				byPath[dir] = Dir(dir, 0o755)
				continue
			}
			if parent.Type != TypeDir {
				return nil, fmt.Errorf("%s: parent %s is a %s, not a dir", p, dir, parent.Type)
			}
		}
	}
	out := make([]Entry, 0, len(byPath))
	for _, e := range byPath {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func (e Entry) validate() error {
	if e.Mode&^0o7777 != 0 {
		return fmt.Errorf("mode %#o has bits beyond 07777; the file type comes from Type", e.Mode)
	}
	switch e.Type {
	case TypeFile:
		if e.Source != "" && e.Content != nil {
			return fmt.Errorf("file has both Content and Source")
		}
	case TypeDir:
		if e.Source != "" || e.Content != nil || e.Target != "" {
			return fmt.Errorf("dir has content, source or target")
		}
	case TypeSymlink:
		if e.Target == "" {
			return fmt.Errorf("symlink has no target")
		}
	default:
		return fmt.Errorf("unknown entry type %v", e.Type)
	}
	return nil
}

// cleanPath accepts only absolute, already-clean paths below "/": an image
// description with ".." or duplicate slashes is a bug in its author, and
// silently normalising it would hide that.
func cleanPath(p string) (string, error) {
	if !strings.HasPrefix(p, "/") || p == "/" {
		return "", fmt.Errorf("path %q: want an absolute path below /", p)
	}
	if path.Clean(p) != p {
		return "", fmt.Errorf("path %q is not clean (want %q)", p, path.Clean(p))
	}
	return p, nil
}
