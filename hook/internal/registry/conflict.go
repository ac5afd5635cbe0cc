package registry

import (
	"slices"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crio-userns/crio-userns/internal/idmap"
)

// Conflict is a host range two entries' maps share.
type Conflict struct {
	Map       string // "uid_map" or "gid_map"
	MineIndex int    // index in the entry's map as given
	Mine      rspec.LinuxIDMapping
	Theirs    rspec.LinuxIDMapping
	Shared    idmap.Range
	Other     *Entry
}

// SameNamespace reports whether a and b are one user namespace, whose
// sharing of host IDs with itself is no conflict. The namespace's inode
// decides, not a pod key from annotations: no name can make two
// namespaces one.
func SameNamespace(a, b *Entry) bool { return !a.NS.IsZero() && a.NS == b.NS }

// Conflicts returns the host ranges self shares with other, another
// namespace. Single-ID root extents ("0 H 1", map-to-root) that point
// at the same host ID inside rootRange are not conflicts when both pods are
// in one namespace: on OpenShift every pod of a project runs as the
// project's first UID, and map-to-root makes that ID each pod's root.
func Conflicts(self, other *Entry, rootRange *idmap.Range) []Conflict {
	if SameNamespace(self, other) {
		return nil
	}
	shareRoot := rootRange != nil && self.Namespace != "" && self.Namespace == other.Namespace
	var out []Conflict
	for _, side := range []struct {
		name         string
		mine, theirs []rspec.LinuxIDMapping
	}{{"uid_map", self.UIDMaps, other.UIDMaps}, {"gid_map", self.GIDMaps, other.GIDMaps}} {
		for _, c := range hostOverlaps(side.mine, side.theirs) {
			if shareRoot && isRoot(c.Mine) && isRoot(c.Theirs) && c.Mine.HostID == c.Theirs.HostID && rootRange.Contains(c.Mine.HostID) {
				continue
			}
			c.Map = side.name
			c.Other = other
			out = append(out, c)
		}
	}
	return out
}

func isRoot(m rspec.LinuxIDMapping) bool { return m.ContainerID == 0 && m.Size == 1 }

// hostOverlaps finds every pair of extents, one from each map, whose host
// ranges intersect: both sides sorted by host start and swept together, so
// the cost is O((n+m) log(n+m) + pairs) rather than n*m.
func hostOverlaps(mine, theirs []rspec.LinuxIDMapping) []Conflict {
	if len(mine) == 0 || len(theirs) == 0 {
		return nil
	}
	type ext struct {
		r   idmap.Range
		idx int
	}
	sorted := func(maps []rspec.LinuxIDMapping) []ext {
		out := make([]ext, 0, len(maps))
		for i, m := range maps {
			if m.Size > 0 {
				out = append(out, ext{idmap.HostRange(m), i})
			}
		}
		slices.SortFunc(out, func(a, b ext) int {
			switch {
			case a.r.First < b.r.First:
				return -1
			case a.r.First > b.r.First:
				return 1
			}
			return 0
		})
		return out
	}
	a, b := sorted(mine), sorted(theirs)
	var out []Conflict
	j0 := 0
	for _, x := range a {
		// A b extent that ends before x starts ends before every later x
		// starts too (a is sorted by start): skip the leading run of those.
		for j0 < len(b) && b[j0].r.Last < x.r.First {
			j0++
		}
		for j := j0; j < len(b) && b[j].r.First <= x.r.Last; j++ {
			if shared, ok := x.r.Intersect(b[j].r); ok {
				out = append(out, Conflict{
					MineIndex: x.idx, Mine: mine[x.idx], Theirs: theirs[b[j].idx], Shared: shared,
				})
			}
		}
	}
	return out
}
