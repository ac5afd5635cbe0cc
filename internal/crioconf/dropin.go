// Package crioconf chooses the crio.conf.d drop-in the project ships for a
// CRI-O version. The node bench, the e2e suite, the demo, the RPM staging and
// the MachineConfig generator all install what DropIns returns, so a node
// never gets a drop-in its CRI-O refuses.
//
// contrib/crio.conf.d/99-crio-userns.conf is written for the newest lines: its
// workload allows each annotation under both of the names CRI-O 1.35 and
// later know (the legacy io.kubernetes.cri-o.* one and the *.crio.io one,
// cri-o PR 9537). CRI-O before 1.35 knows only the legacy names and refuses
// to start ("invalid allowed_annotation") when allowed_annotations lists
// another, so for those lines DropIns derives the drop-in by leaving the
// *.crio.io names out. Everything else is the same on every line.
package crioconf

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/crio-userns/crio-userns/internal/crio"
)

// Name is the drop-in's file name in /etc/crio/crio.conf.d: it sorts after
// the Machine Config Operator's 00-default and 01-ctrcfg-* files.
const Name = "99-crio-userns.conf"

// Source is where the drop-in lives in the checkout.
var Source = filepath.Join("contrib", "crio.conf.d", Name)

// v2Suffix ends every annotation name introduced by CRI-O 1.35's rename.
const v2Suffix = ".crio.io"

// DropIn is one crio.conf.d file to install.
type DropIn struct {
	Name    string // file name in crio.conf.d
	Source  string // the checkout's file it comes from, relative to the root
	Content []byte
}

// DropIns returns the drop-ins to install with CRI-O version (a release tag
// such as v1.34.0), read from the checkout at root.
func DropIns(root, version string) ([]DropIn, error) {
	r, err := crio.ParseRelease(version)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(root, Source))
	if err != nil {
		return nil, fmt.Errorf("reading the crio.conf.d drop-in: %w", err)
	}
	content, err := ForLine(data, r)
	if err != nil {
		return nil, fmt.Errorf("%s for CRI-O %s: %w", Source, version, err)
	}
	return []DropIn{{Name: Name, Source: Source, Content: content}}, nil
}

// Files is DropIns as the name → content map the node bench takes.
func Files(root, version string) (map[string][]byte, error) {
	dropIns, err := DropIns(root, version)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	for _, d := range dropIns {
		files[d.Name] = d.Content
	}
	return files, nil
}

// KnowsV2Annotations reports whether CRI-O release r accepts the *.crio.io
// annotation names.
func KnowsV2Annotations(r crio.Release) bool { return r.AtLeast(1, 35) }

// UsernsModeAnnotations returns the names under which CRI-O release r reads
// the userns-mode annotation, the preferred one first (when both are set,
// CRI-O 1.35 and later use userns-mode.crio.io).
func UsernsModeAnnotations(r crio.Release) []string {
	if KnowsV2Annotations(r) {
		return []string{"userns-mode" + v2Suffix, "io.kubernetes.cri-o.userns-mode"}
	}
	return []string{"io.kubernetes.cri-o.userns-mode"}
}

// quotedName is one array element on a line of its own: `  "NAME",`.
var quotedName = regexp.MustCompile(`^\s*"([^"]+)",?\s*(#.*)?$`)

// ForLine returns the drop-in data adapted to CRI-O release r: unchanged for
// 1.35 and later, without the *.crio.io names in allowed_annotations before.
// The result is checked by decoding it: every workload must keep exactly its
// other annotations, so a drop-in written in a shape this function does not
// handle (two names on one line) fails here rather than on a node.
func ForLine(data []byte, r crio.Release) ([]byte, error) {
	want, err := allowedAnnotations(data)
	if err != nil {
		return nil, err
	}
	if KnowsV2Annotations(r) {
		return data, nil
	}
	var out bytes.Buffer
	inArray := false
	for _, line := range strings.SplitAfter(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "allowed_annotations") && strings.Contains(trimmed, "[") && !strings.Contains(trimmed, "]"):
			inArray = true
		case inArray && strings.HasPrefix(trimmed, "]"):
			inArray = false
		case inArray:
			if m := quotedName.FindStringSubmatch(trimmed); m != nil && strings.HasSuffix(m[1], v2Suffix) {
				continue
			}
		}
		out.WriteString(line)
	}
	got, err := allowedAnnotations(out.Bytes())
	if err != nil {
		return nil, fmt.Errorf("after leaving out the %s names: %w", v2Suffix, err)
	}
	for workload, names := range want {
		var legacy []string
		for _, n := range names {
			if !strings.HasSuffix(n, v2Suffix) {
				legacy = append(legacy, n)
			}
		}
		if !slices.Equal(got[workload], legacy) {
			return nil, fmt.Errorf("workload %s: cannot leave out the %s names for CRI-O %s (allowed_annotations %q would become %q); write one annotation name per line",
				workload, v2Suffix, r.Line(), names, got[workload])
		}
	}
	return out.Bytes(), nil
}

// allowedAnnotations decodes the workloads' allowed_annotations, sorted.
func allowedAnnotations(data []byte) (map[string][]string, error) {
	var cfg struct {
		Crio struct {
			Runtime struct {
				Workloads map[string]struct {
					AllowedAnnotations []string `toml:"allowed_annotations"`
				} `toml:"workloads"`
			} `toml:"runtime"`
		} `toml:"crio"`
	}
	if _, err := toml.Decode(string(data), &cfg); err != nil {
		return nil, fmt.Errorf("not valid TOML: %w", err)
	}
	out := map[string][]string{}
	for name, w := range cfg.Crio.Runtime.Workloads {
		names := slices.Clone(w.AllowedAnnotations)
		sort.Strings(names)
		out[name] = names
	}
	return out, nil
}
