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

// LoadSeries reads patchesRoot/version/*.patch, version being a release or
// MainSeries. A directory with no patches is a valid, empty series: the
// version is supported but not modified yet.
func LoadSeries(patchesRoot, version string) (*Series, error) {
	if version != MainSeries {
		if _, err := ParseRelease(version); err != nil {
			return nil, err
		}
	}
	dir := filepath.Join(patchesRoot, version)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		known, _ := ListSeries(patchesRoot)
		return nil, fmt.Errorf("no patch series for CRI-O %s: %s does not exist (series: %s)", version, dir, strings.Join(known, ", "))
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

// ListSeries returns the supported CRI-O versions: the release directories
// vX.Y.Z under patchesRoot, oldest first. Other directories (patches/main,
// the series written against CRI-O's main branch) are not releases and are
// skipped; a directory that looks like a release but is not one is an error,
// so that a typo cannot silently drop a version from the builds and tests.
func ListSeries(patchesRoot string) ([]string, error) {
	entries, err := os.ReadDir(patchesRoot)
	if err != nil {
		return nil, fmt.Errorf("listing patch series: %w", err)
	}
	var releases []Release
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "v") {
			continue
		}
		r, err := ParseRelease(e.Name())
		if err != nil {
			return nil, fmt.Errorf("patch series directory %s: %w", filepath.Join(patchesRoot, e.Name()), err)
		}
		releases = append(releases, r)
	}
	sort.Slice(releases, func(i, j int) bool { return releases[i].Less(releases[j]) })
	versions := make([]string, len(releases))
	for i, r := range releases {
		versions[i] = r.String()
	}
	return versions, nil
}

// DefaultSeries is the version built, run and packaged when none is named:
// the newest release that has a series.
func DefaultSeries(patchesRoot string) (string, error) {
	versions, err := ListSeries(patchesRoot)
	if err != nil {
		return "", err
	}
	if len(versions) == 0 {
		return "", fmt.Errorf("no patch series under %s: expected directories named like v1.36.3", patchesRoot)
	}
	return versions[len(versions)-1], nil
}
