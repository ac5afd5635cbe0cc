package rpmcheck

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Parity is rpm/parity/cri-o-LINE.parity: what OpenShift's own cri-o package
// of one CRI-O line ships (paths, which of them are configuration) and
// requires, less the exclusions, each with its reason.
type Parity struct {
	Files    []string          // paths the package must ship
	Config   map[string]bool   // those that must be %config(noreplace)
	Requires []string          // dependencies, "name [op version]"
	Provides []string          // capability names
	Excluded map[string]string // path or requirement → why it is left out
}

// ParityFile is the parity list of a CRI-O version's line.
func ParityFile(root, crioVersion string) string {
	v := strings.TrimPrefix(crioVersion, "v")
	if i := strings.LastIndexByte(v, '.'); i > 0 {
		v = v[:i]
	}
	return filepath.Join(root, "rpm", "parity", "cri-o-"+v+".parity")
}

// ReadParity parses a parity list.
func ReadParity(path string) (*Parity, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	p := &Parity{Config: map[string]bool{}, Excluded: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		kind, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		if rest == "" {
			return nil, fmt.Errorf("%s:%d: %s names nothing", path, n, kind)
		}
		switch kind {
		case "file", "config":
			if !strings.HasPrefix(rest, "/") || strings.ContainsAny(rest, " \t") {
				return nil, fmt.Errorf("%s:%d: %q is not one absolute path", path, n, rest)
			}
			p.Files = append(p.Files, rest)
			p.Config[rest] = kind == "config"
		case "require":
			p.Requires = append(p.Requires, strings.Join(strings.Fields(rest), " "))
		case "provide":
			p.Provides = append(p.Provides, rest)
		case "exclude":
			what, why, _ := strings.Cut(rest, " ")
			if strings.TrimSpace(why) == "" {
				return nil, fmt.Errorf("%s:%d: excluding %s needs a reason", path, n, what)
			}
			p.Excluded[what] = strings.TrimSpace(why)
		default:
			return nil, fmt.Errorf("%s:%d: %q: want file, config, require, provide or exclude", path, n, kind)
		}
	}
	return p, sc.Err()
}

// Compare returns what the package lacks: fileList as FileList gives it
// (mode, flags, path), requires as `rpm -qpR`, provides as `rpm -qp --provides`.
func (p *Parity) Compare(fileList, requires, provides []string) []string {
	have := map[string]string{} // path → flags
	for _, l := range fileList {
		f := strings.Fields(l)
		if len(f) == 3 {
			have[f[2]] = f[1]
		}
	}
	var missing []string
	for _, path := range p.Files {
		if _, ok := p.Excluded[path]; ok {
			continue
		}
		flags, ok := have[path]
		switch {
		case !ok:
			missing = append(missing, "file "+path)
		case p.Config[path] && !strings.Contains(flags, "n"):
			missing = append(missing, "config "+path+" (shipped, but not %config(noreplace))")
		}
	}
	norm := func(list []string) map[string]bool {
		m := map[string]bool{}
		for _, r := range list {
			m[strings.Join(strings.Fields(r), " ")] = true
		}
		return m
	}
	req, prov := norm(requires), norm(provides)
	for _, r := range p.Requires {
		if _, ok := p.Excluded[r]; !ok && !req[r] {
			missing = append(missing, "require "+r)
		}
	}
	for _, name := range p.Provides {
		found := false
		for have := range prov {
			if have == name || strings.HasPrefix(have, name+" ") {
				found = true
			}
		}
		if _, ok := p.Excluded[name]; !ok && !found {
			missing = append(missing, "provide "+name)
		}
	}
	return missing
}
