package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/crio-userns/crio-userns/internal/accounts"
	"github.com/crio-userns/crio-userns/internal/idmap"
	"github.com/crio-userns/crio-userns/internal/safefile"
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
	// Notes say what was skipped while resolving: subid lines that are not
	// valid and belong to no owner the policy reads.
	Notes []string
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
	file    idmap.SubIDFile
	// consulted are the owners whose lines were used: a bad line of one of
	// them is an error, any other bad line a Note.
	consulted []string
}

// passwdFile is where the subid owners' numeric UIDs are looked up.
var passwdFile = "/etc/passwd"

func readSubID(path string) (*subidFile, error) {
	data, err := readTrusted(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &subidFile{path: path, missing: true}, nil
	}
	if err != nil {
		return nil, err
	}
	file, err := idmap.ParseSubIDFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &subidFile{path: path, file: file}, nil
}

// ownerUID returns owner's numeric UID as a string for matching numeric
// subid owners, the way containers/storage matches them (user.Lookup);
// "" when the owner has no passwd entry.
func ownerUID(owner string) (string, error) {
	data, err := safefile.Read(passwdFile, safefile.Options{Limit: accounts.MaxFileSize})
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	users, err := accounts.ParsePasswd(bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("%s: %w", passwdFile, err)
	}
	if u, ok := accounts.LookupUser(users, owner); ok {
		return strconv.FormatUint(uint64(u.UID), 10), nil
	}
	return "", nil
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
	for _, n := range slices.Concat(k[0].notes, k[1].notes) {
		if !slices.Contains(r.Notes, n) {
			r.Notes = append(r.Notes, n)
		}
	}
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
	notes                        []string
}

// resolveSide resolves one side, reading the subid file at path only when
// the allowed ranges come from it or the kubelet range is enabled.
func (p Policy) resolveSide(explicit []string, key, path string, kubeletDefault *idmap.Range) (out sideRanges, _ error) {
	var sf *subidFile
	var err error
	if len(explicit) == 0 || p.KubeletRangeEnabled() {
		if sf, err = readSubID(path); err != nil {
			return out, err
		}
		defer func() { out.notes = sf.notes() }()
	}
	if len(explicit) > 0 {
		if out.allowed, err = parseRanges(explicit); err != nil {
			return out, fmt.Errorf("%s: %w", key, err)
		}
		out.allowedSource = key
	} else if out.allowed, out.allowedSource, err = sf.owned(p.SubIDOwner); err != nil {
		return out, err
	}
	if !p.KubeletRangeEnabled() {
		return out, nil
	}
	// The kubelet takes its range from getsubids when the "kubelet" user
	// has one, else its built-in default: kubelet_default_range stands for
	// the latter.
	if out.kubelet, out.kubeletSource, err = sf.owned(p.KubeletSubIDOwner); err != nil {
		return out, err
	}
	if len(out.kubelet) == 0 {
		out.kubelet = nil
		out.kubeletSource = fmt.Sprintf("kubelet_default_range (no %q entry in %s)", p.KubeletSubIDOwner, path)
		if kubeletDefault != nil {
			out.kubelet = []idmap.Range{*kubeletDefault}
		}
	}
	return out, nil
}

// owned returns the merged ranges f delegates to owner, by name or by
// numeric UID, and a description of where they came from. Bad lines of
// owner are an error: they would narrow or widen its ranges unseen.
func (f *subidFile) owned(owner string) ([]idmap.Range, string, error) {
	source := fmt.Sprintf("%s entries of %q", f.path, owner)
	if f.missing {
		return nil, source + " (file missing)", nil
	}
	f.consulted = append(f.consulted, owner)
	uid := ""
	if f.file.HasNumericOwners() {
		var err error
		if uid, err = ownerUID(owner); err != nil {
			return nil, "", fmt.Errorf("%s has owners written as UIDs, but %q's UID is unknown: %w", f.path, owner, err)
		}
	}
	ranges, bad := f.file.Owned(owner, uid)
	if len(bad) > 0 {
		msgs := make([]string, len(bad))
		for i, b := range bad {
			msgs[i] = b.Error()
		}
		return nil, "", fmt.Errorf("%s: %s (a line of %q)", f.path, strings.Join(msgs, "; "), owner)
	}
	return ranges, source, nil
}

// notes says which bad lines were skipped because they belong to no owner
// the policy consulted.
func (f *subidFile) notes() []string {
	var out []string
	for _, b := range f.file.Bad {
		if slices.Contains(f.consulted, b.Owner) {
			continue
		}
		out = append(out, fmt.Sprintf("%s %s: skipped (not a line of %s)", f.path, b.Error(), quoteJoin(f.consulted)))
	}
	return out
}

func quoteJoin(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, " or ")
}
