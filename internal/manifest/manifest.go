// Package manifest reads contrib/files.manifest, the one list of the files
// crio-userns ships to a node: where each comes from in the checkout, where
// it goes, its mode, whether it is configuration, and which package ships
// it. The RPM specs, the RPM checks, the MachineConfig generator and `make
// install` all read it, so a file added there reaches every delivery path.
package manifest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/crio-userns/crio-userns/internal/crioconf"
)

// File is the manifest's path in the checkout.
const File = "contrib/files.manifest"

// Package names.
const (
	PackageHook = "crio-userns-hook" // also shipped by cri-o, which carries the hook
	PackageCrio = "cri-o"
)

// Types of entries.
const (
	TypeBin    = "bin"    // built from the Go package named by Source
	TypeMan    = "man"    // a man page, compressed by the packages
	TypeFile   = "file"   // a data file
	TypeConfig = "config" // configuration: %config(noreplace)
	TypeDir    = "dir"    // a directory the package owns; Source is "-"
)

// Entry is one line of the manifest.
type Entry struct {
	Package string
	Type    string
	Mode    os.FileMode
	Path    string // on the node, absolute
	Source  string // in the checkout, slash-separated; "-" for directories
}

// Config reports whether the entry is configuration an admin may edit.
func (e Entry) Config() bool { return e.Type == TypeConfig }

// In reports whether package pkg ships the entry: cri-o ships everything,
// crio-userns-hook its own entries.
func (e Entry) In(pkg string) bool { return pkg == PackageCrio || e.Package == pkg }

// Manifest is the parsed file, in its order.
type Manifest struct {
	Entries []Entry
}

var types = map[string]bool{TypeBin: true, TypeMan: true, TypeFile: true, TypeConfig: true, TypeDir: true}

// Parse reads the manifest text; errors name the line.
func Parse(data []byte) (*Manifest, error) {
	m := &Manifest{}
	seen := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		bad := func(format string, args ...any) (*Manifest, error) {
			return nil, fmt.Errorf("%s:%d: %s", File, n, fmt.Sprintf(format, args...))
		}
		f := strings.Fields(line)
		if len(f) != 5 {
			return bad("want 5 fields (package type mode path source), got %d", len(f))
		}
		e := Entry{Package: f[0], Type: f[1], Path: f[3], Source: f[4]}
		if e.Package != PackageHook && e.Package != PackageCrio {
			return bad("package %q: want %s or %s", e.Package, PackageHook, PackageCrio)
		}
		if !types[e.Type] {
			return bad("type %q: want bin, man, file, config or dir", e.Type)
		}
		mode, err := strconv.ParseUint(f[2], 8, 32)
		if err != nil || mode > 0o7777 || len(f[2]) != 4 {
			return bad("mode %q: want four octal digits", f[2])
		}
		e.Mode = os.FileMode(mode)
		if !path.IsAbs(e.Path) || path.Clean(e.Path) != e.Path {
			return bad("path %q: want a clean absolute path", e.Path)
		}
		switch {
		case e.Type == TypeDir && e.Source != "-":
			return bad("a dir has no source (-), got %q", e.Source)
		case e.Type != TypeDir && (e.Source == "-" || path.IsAbs(e.Source) || path.Clean(e.Source) != e.Source || strings.HasPrefix(e.Source, "../")):
			return bad("source %q: want a clean path in the checkout", e.Source)
		case e.Type == TypeConfig && !strings.HasPrefix(e.Path, "/etc/"):
			return bad("config %s is not under /etc", e.Path)
		case e.Type != TypeDir && e.Type != TypeConfig && strings.HasPrefix(e.Path, "/etc/"):
			return bad("%s is under /etc but not config: an update would overwrite an admin's edit", e.Path)
		}
		if prev, ok := seen[e.Path]; ok {
			return bad("%s is also on line %d", e.Path, prev)
		}
		seen[e.Path] = n
		m.Entries = append(m.Entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(m.Entries) == 0 {
		return nil, fmt.Errorf("%s: no entries", File)
	}
	return m, m.checkDirs()
}

// checkDirs: every directory that holds a shipped file under a
// crio-userns-only tree is owned by the same package, so removing the
// package removes it.
func (m *Manifest) checkDirs() error {
	dirs := map[string]Entry{}
	for _, e := range m.Entries {
		if e.Type == TypeDir {
			dirs[e.Path] = e
		}
	}
	for _, e := range m.Entries {
		if d, ok := dirs[path.Dir(e.Path)]; ok && !(d.Package == e.Package || d.Package == PackageHook) {
			return fmt.Errorf("%s: %s is shipped by %s, its directory only by %s", File, e.Path, e.Package, d.Package)
		}
	}
	return nil
}

// Load reads the manifest of the checkout at root.
func Load(root string) (*Manifest, error) {
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(File)))
	if err != nil {
		return nil, err
	}
	return Parse(data)
}

// Content is what entry e installs for CRI-O version: the checkout's file,
// except the crio.conf.d drop-in, which crioconf adjusts per CRI-O line
// (the RPM staging writes that content over its source).
func Content(root, crioVersion string, e Entry) ([]byte, error) {
	if e.Source == filepath.ToSlash(crioconf.Source) {
		dropIns, err := crioconf.DropIns(root, crioVersion)
		if err != nil {
			return nil, err
		}
		for _, d := range dropIns {
			if filepath.ToSlash(d.Source) == e.Source {
				return d.Content, nil
			}
		}
	}
	return os.ReadFile(filepath.Join(root, filepath.FromSlash(e.Source)))
}

// For returns the entries package pkg ships, in manifest order.
func (m *Manifest) For(pkg string) []Entry {
	var out []Entry
	for _, e := range m.Entries {
		if e.In(pkg) {
			out = append(out, e)
		}
	}
	return out
}

// Paths returns the node paths of entries, sorted, with the ".gz" the
// packages add to man pages.
func Paths(entries []Entry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.PackagedPath())
	}
	sort.Strings(out)
	return out
}

// PackagedPath is the path as the package installs it: man pages gzipped.
func (e Entry) PackagedPath() string {
	if e.Type == TypeMan {
		return e.Path + ".gz"
	}
	return e.Path
}

// Text renders the manifest back in its file format, one entry a line,
// columns separated by single spaces: the form the specs' shell loop reads.
func (m *Manifest) Text() string {
	var b strings.Builder
	for _, e := range m.Entries {
		fmt.Fprintf(&b, "%s %s %04o %s %s\n", e.Package, e.Type, uint32(e.Mode), e.Path, e.Source)
	}
	return b.String()
}
