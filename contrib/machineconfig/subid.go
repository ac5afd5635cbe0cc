package machineconfig

import (
	"fmt"
	"math"
	"strings"

	"github.com/crio-userns/crio-userns/internal/idmap"
	"github.com/crio-userns/crio-userns/internal/policy"
)

// SubIDOwner is the user whose /etc/subuid and /etc/subgid ranges CRI-O's
// auto user namespaces draw from (containers/storage) and the hook's policy
// allows (subid_owner in contrib/crio-userns/policy.toml).
const SubIDOwner = "containers"

// MinSubIDSize is one pod's worth of IDs: the field reports' pods ask for
// "auto:size=65536".
const MinSubIDSize = 65536

// coreSubID is the entry RHCOS's image gives the core user (useradd's
// default), which field report 000 keeps: the MachineConfig replaces the whole
// file, and dropping it would break rootless podman for core on the node.
var coreSubID = idmap.SubID{Owner: "core", Start: 100000, Count: 65536}

// SubIDRange is SubIDOwner's line in /etc/subuid and /etc/subgid, in the
// project's one subid type.
type SubIDRange = idmap.SubID

// DefaultSubIDRange is field report 000's containers:200000:268435456.
var DefaultSubIDRange = SubIDRange{Owner: SubIDOwner, Start: 200000, Count: 268435456}

// FlagValue renders r as --subid-range takes it, START:SIZE.
func FlagValue(r SubIDRange) string { return fmt.Sprintf("%d:%d", r.Start, r.Count) }

// ParseSubIDRange parses --subid-range's START:SIZE as SubIDOwner's line,
// with the subid files' own rules.
func ParseSubIDRange(s string) (SubIDRange, error) {
	if strings.Count(s, ":") != 1 || strings.ContainsAny(s, "\n#") {
		return SubIDRange{}, fmt.Errorf("%q is not START:SIZE", s)
	}
	e, err := idmap.ParseSubID(strings.NewReader(SubIDOwner + ":" + s))
	if err != nil || len(e) != 1 {
		return SubIDRange{}, fmt.Errorf("%q is not START:SIZE: %v", s, err)
	}
	e[0].Line = 0
	return e[0], nil
}

// checkSubIDs refuses ranges the node cannot use safely: host root, the
// invalid ID 4294967295, fewer IDs than one pod needs, core's entry (when
// kept) and the OpenShift project UID range the hook's policy reserves for
// map-to-root (project_root_range), whose IDs belong to other projects' pods.
func checkSubIDs(r SubIDRange, keepCore bool, projectRoots []idmap.Range) error {
	f := FlagValue(r)
	switch {
	case r.Start == 0:
		return fmt.Errorf("--subid-range %s: START 0 would delegate host root", f)
	case r.Count < MinSubIDSize:
		return fmt.Errorf("--subid-range %s: SIZE %d is less than one pod's %d IDs (auto:size=65536)", f, r.Count, MinSubIDSize)
	case uint64(r.Start)+uint64(r.Count) > math.MaxUint32:
		return fmt.Errorf("--subid-range %s: ends past %d, the last valid ID", f, uint32(math.MaxUint32-1))
	}
	if keepCore && r.Range().Overlaps(coreSubID.Range()) {
		return fmt.Errorf("--subid-range %s overlaps core's %s kept from the RHCOS default; start at %d or later, or drop core's line with --core-subid=false",
			f, coreSubID, coreSubID.Range().Last+1)
	}
	for _, p := range projectRoots {
		if r.Range().Overlaps(p) {
			return fmt.Errorf("--subid-range %s overlaps %s, the OpenShift project UID range of the hook policy's project_root_range: pods would get other projects' UIDs", f, p)
		}
	}
	return nil
}

// subIDFile is the text of /etc/subuid, and of /etc/subgid (the same).
func subIDFile(r SubIDRange, keepCore bool) []byte {
	var b strings.Builder
	if keepCore {
		fmt.Fprintln(&b, coreSubID)
	}
	r.Owner = SubIDOwner
	fmt.Fprintln(&b, r)
	return []byte(b.String())
}

// projectRootRanges reads project_root_range from the hook policy that the
// MachineConfig ships, with the hook's default when the key is absent; "none"
// reserves nothing.
func projectRootRanges(data []byte) ([]idmap.Range, error) {
	p, err := policy.Parse(data)
	if err != nil {
		return nil, err
	}
	if p.ProjectRootRange == policy.None {
		return nil, nil
	}
	r, err := idmap.ParseRange(p.ProjectRootRange)
	if err != nil {
		return nil, fmt.Errorf("project_root_range: %w", err)
	}
	return []idmap.Range{r}, nil
}
