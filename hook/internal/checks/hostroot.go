package checks

import (
	"fmt"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crio-userns/crio-userns/internal/idmap"
)

// CheckHostRoot is check 2: no extent maps host ID 0, whose owner is the
// host's root, unless the policy says allow_host_root.
func CheckHostRoot(k Kind, maps []rspec.LinuxIDMapping, allow bool) []Finding {
	if allow {
		return nil
	}
	var out []Finding
	for i, m := range maps {
		if m.Size == 0 || !idmap.HostRange(m).Contains(0) {
			continue
		}
		out = append(out, Finding{
			Check: HostRoot, Map: k.Map, Extent: idmap.ExtentString(m),
			Reason: fmt.Sprintf("%s extent #%d (%s) maps host %s 0 (root) to container %s %d",
				k.Map, i+1, idmap.ExtentString(m), k.ID, k.ID, m.ContainerID),
			Fix: `map the container to an unprivileged host range (userns-mode "auto") or set allow_host_root = true in the policy`,
		})
	}
	return out
}

func runHostRoot(in *Input) Result {
	allow := in.Policy.AllowHostRoot
	return Result{Findings: append(CheckHostRoot(UID, in.UIDs, allow), CheckHostRoot(GID, in.GIDs, allow)...)}
}
