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
	// Kubelet is the kubelet's range, where extents of native Kubernetes user
	// namespaces (hostUsers: false) may lie besides UIDs/GIDs; nil when
	// kubelet_subid_owner is "none".
	Kubelet *KubeletRanges
}

// KubeletRanges is the host range the kubelet allocates native user
// namespaces from, as the hook understands the node's configuration.
type KubeletRanges struct {
	UIDs, GIDs []idmap.Range
	// UIDSource and GIDSource say where the ranges came from:
	// "/etc/subuid entries of \"kubelet\"" or
	// "kubelet_default_range (no \"kubelet\" entry in /etc/subuid)".
	UIDSource, GIDSource string
}

// subidFile is one subid file, read and parsed once for every owner the
// policy asks about.
type subidFile struct {
	path    string
	missing bool
	entries []idmap.SubID
}

func readSubID(path string) (*subidFile, error) {
	data, err := readBounded(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &subidFile{path: path, missing: true}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	entries, err := idmap.ParseSubID(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &subidFile{path: path, entries: entries}, nil
}

// Resolve parses p's ranges and reads the subid files: for the allowed
// ranges where allowed_uids/allowed_gids are empty, and for the kubelet's
// range unless kubelet_subid_owner is "none". A missing subid file gives an
// empty set (every extent then fails check 3, with a message naming the
// file) and the kubelet its default range; an unreadable or malformed one
// is an error.
func (p Policy) Resolve() (*Resolved, error) {
	r := &Resolved{Policy: p}
	var err error
	if r.RootRange, err = p.projectRootRange(); err != nil {
		return nil, fmt.Errorf("project_root_range: %w", err)
	}
	kubeletDefault, err := p.kubeletDefaultRange()
	if err != nil {
		return nil, fmt.Errorf("kubelet_default_range: %w", err)
	}
	var k [2]sideRanges
	for i, side := range []struct {
		explicit []string
		key      string
		file     string
	}{
		{p.AllowedUIDs, "allowed_uids", p.SubUIDFile},
		{p.AllowedGIDs, "allowed_gids", p.SubGIDFile},
	} {
		if k[i], err = p.resolveSide(side.explicit, side.key, side.file, kubeletDefault); err != nil {
			return nil, err
		}
	}
	r.UIDs, r.UIDSource = k[0].allowed, k[0].allowedSource
	r.GIDs, r.GIDSource = k[1].allowed, k[1].allowedSource
	if p.KubeletRangeEnabled() {
		r.Kubelet = &KubeletRanges{
			UIDs: k[0].kubelet, UIDSource: k[0].kubeletSource,
			GIDs: k[1].kubelet, GIDSource: k[1].kubeletSource,
		}
	}
	return r, nil
}

// sideRanges is the UID or the GID half of a resolution.
type sideRanges struct {
	allowed, kubelet             []idmap.Range
	allowedSource, kubeletSource string
}

// resolveSide resolves one side, reading the subid file at path only when
// the allowed ranges come from it or the kubelet range is enabled.
func (p Policy) resolveSide(explicit []string, key, path string, kubeletDefault *idmap.Range) (sideRanges, error) {
	var out sideRanges
	var sf *subidFile
	var err error
	if len(explicit) == 0 || p.KubeletRangeEnabled() {
		if sf, err = readSubID(path); err != nil {
			return out, err
		}
	}
	if len(explicit) > 0 {
		if out.allowed, err = parseRanges(explicit); err != nil {
			return out, fmt.Errorf("%s: %w", key, err)
		}
		out.allowedSource = key
	} else {
		out.allowed, out.allowedSource = sf.owned(p.SubIDOwner)
	}
	if !p.KubeletRangeEnabled() {
		return out, nil
	}
	// The kubelet takes its range from getsubids when the "kubelet" user
	// has one, else its built-in default: kubelet_default_range stands for
	// the latter.
	out.kubelet, out.kubeletSource = sf.owned(p.KubeletSubIDOwner)
	if len(out.kubelet) == 0 {
		out.kubelet = nil
		out.kubeletSource = fmt.Sprintf("kubelet_default_range (no %q entry in %s)", p.KubeletSubIDOwner, path)
		if kubeletDefault != nil {
			out.kubelet = []idmap.Range{*kubeletDefault}
		}
	}
	return out, nil
}

// owned returns the merged ranges f delegates to owner and a description of
// where they came from.
func (f *subidFile) owned(owner string) ([]idmap.Range, string) {
	source := fmt.Sprintf("%s entries of %q", f.path, owner)
	if f.missing {
		return nil, source + " (file missing)"
	}
	return idmap.SubIDRanges(f.entries, owner, ""), source
}
