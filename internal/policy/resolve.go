package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"

	"github.com/crio-userns/crio-userns/internal/idmap"
)

// Resolved is a policy with its ranges parsed and the subid files read: what
// the checks consume.
type Resolved struct {
	Policy
	// UIDs and GIDs are the merged allowed host ranges.
	UIDs, GIDs []idmap.Range
	// UIDSource and GIDSource say where the ranges came from, for messages
	// ("allowed_uids" or "/etc/subuid entries of \"containers\"").
	UIDSource, GIDSource string
	// RootRange is the project range for single-ID root extents; nil when
	// disabled.
	RootRange *idmap.Range
}

// Resolve parses p's ranges and, where allowed_uids/allowed_gids are empty,
// reads the subid files. A missing subid file gives an empty set (every
// extent then fails check 3, with a message naming the file); an unreadable
// or malformed one is an error.
func (p Policy) Resolve() (*Resolved, error) {
	r := &Resolved{Policy: p}
	var err error
	if r.RootRange, err = p.projectRootRange(); err != nil {
		return nil, fmt.Errorf("project_root_range: %w", err)
	}
	if r.UIDs, r.UIDSource, err = p.allowed(p.AllowedUIDs, "allowed_uids", p.SubUIDFile); err != nil {
		return nil, err
	}
	if r.GIDs, r.GIDSource, err = p.allowed(p.AllowedGIDs, "allowed_gids", p.SubGIDFile); err != nil {
		return nil, err
	}
	return r, nil
}

func (p Policy) allowed(explicit []string, key, subidFile string) ([]idmap.Range, string, error) {
	if len(explicit) > 0 {
		rs, err := parseRanges(explicit)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", key, err)
		}
		return rs, key, nil
	}
	source := fmt.Sprintf("%s entries of %q", subidFile, p.SubIDOwner)
	data, err := readBounded(subidFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, source + " (file missing)", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", subidFile, err)
	}
	entries, err := idmap.ParseSubID(bytes.NewReader(data))
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", subidFile, err)
	}
	return idmap.SubIDRanges(entries, p.SubIDOwner, ""), source, nil
}
