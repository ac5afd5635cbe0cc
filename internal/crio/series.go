package crio

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Series is the ordered list of patches the project keeps for one CRI-O version.
type Series struct {
	Version string
	Dir     string
	Patches []string // paths, in the order git am applies them
}

// LoadSeries reads patchesRoot/version/*.patch. A directory with no patches is
// a valid, empty series: the version is supported but not modified yet.
func LoadSeries(patchesRoot, version string) (*Series, error) {
	dir := filepath.Join(patchesRoot, version)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no patch series for CRI-O %s: %s does not exist (series: %s)", version, dir, strings.Join(listSeries(patchesRoot), ", "))
	}
	if err != nil {
		return nil, fmt.Errorf("reading patch series %s: %w", dir, err)
	}
	s := &Series{Version: version, Dir: dir}
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".patch") {
			s.Patches = append(s.Patches, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(s.Patches)
	return s, nil
}

// ListSeries returns the versions that have a series directory under patchesRoot.
func ListSeries(patchesRoot string) []string { return listSeries(patchesRoot) }

func listSeries(patchesRoot string) []string {
	entries, _ := os.ReadDir(patchesRoot)
	var versions []string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), "v") {
			versions = append(versions, e.Name())
		}
	}
	sort.Strings(versions)
	return versions
}
