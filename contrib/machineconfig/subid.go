package machineconfig

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

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

// SubIDRange is the host ID range delegated to SubIDOwner, START:SIZE.
type SubIDRange struct {
	Start, Size uint32
}

// DefaultSubIDRange is field report 000's containers:200000:268435456.
var DefaultSubIDRange = SubIDRange{Start: 200000, Size: 268435456}

func (r SubIDRange) String() string { return fmt.Sprintf("%d:%d", r.Start, r.Size) }

// Range is the host IDs START..START+SIZE-1.
func (r SubIDRange) Range() idmap.Range {
	return idmap.Range{First: r.Start, Last: r.Start + r.Size - 1}
}

// ParseSubIDRange parses START:SIZE.
func ParseSubIDRange(s string) (SubIDRange, error) {
	start, size, ok := strings.Cut(s, ":")
	if !ok {
		return SubIDRange{}, fmt.Errorf("%q is not START:SIZE", s)
	}
	a, err := strconv.ParseUint(start, 10, 32)
	if err != nil {
		return SubIDRange{}, fmt.Errorf("%q: START: %w", s, err)
	}
	b, err := strconv.ParseUint(size, 10, 32)
	if err != nil {
		return SubIDRange{}, fmt.Errorf("%q: SIZE: %w", s, err)
	}
	return SubIDRange{Start: uint32(a), Size: uint32(b)}, nil
}

// check refuses ranges the node cannot use safely: host root, the invalid ID
// 4294967295, fewer IDs than one pod needs, core's entry (when kept) and the
// OpenShift project UID range the hook's policy reserves for map-to-root
// (project_root_range), whose IDs belong to other projects' pods.
func (r SubIDRange) check(keepCore bool, projectRoots []idmap.Range) error {
	switch {
	case r.Start == 0:
		return fmt.Errorf("--subid-range %s: START 0 would delegate host root", r)
	case r.Size < MinSubIDSize:
		return fmt.Errorf("--subid-range %s: SIZE %d is less than one pod's %d IDs (auto:size=65536)", r, r.Size, MinSubIDSize)
	case uint64(r.Start)+uint64(r.Size) > math.MaxUint32:
		return fmt.Errorf("--subid-range %s: ends past %d, the last valid ID", r, uint32(math.MaxUint32-1))
	}
	if keepCore && r.Range().Overlaps(coreSubID.Range()) {
		return fmt.Errorf("--subid-range %s overlaps core's %s:%d:%d kept from the RHCOS default; start at %d or later, or drop core's line with --core-subid=false",
			r, coreSubID.Owner, coreSubID.Start, coreSubID.Count, coreSubID.Range().Last+1)
	}
	for _, p := range projectRoots {
		if r.Range().Overlaps(p) {
			return fmt.Errorf("--subid-range %s overlaps %s, the OpenShift project UID range of the hook policy's project_root_range: pods would get other projects' UIDs", r, p)
		}
	}
	return nil
}

// subIDFile is the text of /etc/subuid, and of /etc/subgid (the same).
func subIDFile(r SubIDRange, keepCore bool) []byte {
	var b strings.Builder
	if keepCore {
		fmt.Fprintf(&b, "%s:%d:%d\n", coreSubID.Owner, coreSubID.Start, coreSubID.Count)
	}
	fmt.Fprintf(&b, "%s:%d:%d\n", SubIDOwner, r.Start, r.Size)
	return []byte(b.String())
}

// projectRootRanges reads project_root_range from the hook policy that the
// MachineConfig ships, with the hook's default when the key is absent; "none"
// reserves nothing.
func projectRootRanges(data []byte) ([]idmap.Range, error) {
	var p struct {
		ProjectRootRange string `toml:"project_root_range"`
	}
	if _, err := toml.Decode(string(data), &p); err != nil {
		return nil, err
	}
	switch p.ProjectRootRange {
	case policy.None:
		return nil, nil
	case "":
		p.ProjectRootRange = policy.DefaultProjectRootRange
	}
	r, err := idmap.ParseRange(p.ProjectRootRange)
	if err != nil {
		return nil, fmt.Errorf("project_root_range: %w", err)
	}
	return []idmap.Range{r}, nil
}
