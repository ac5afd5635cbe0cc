package checks

import (
	"fmt"
	"path"
	"slices"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crio-userns/crio-userns/internal/idmap"
)

// cgroupRoot is where cgroup file systems are mounted, on the host and in
// containers.
const cgroupRoot = "/sys/fs/cgroup"

// WritableCgroupMounts returns the container's mounts that give it a
// writable cgroup file system: a cgroup or cgroup2 mount (CRI-O mounts it
// read-write for the io.kubernetes.cri-o.cgroup2-mount-hierarchy-rw
// annotation on cgroup v2, and for privileged containers), or a bind mount
// of the host's cgroup tree, not mounted read-only.
func WritableCgroupMounts(mounts []rspec.Mount) []rspec.Mount {
	var out []rspec.Mount
	for _, m := range mounts {
		src := path.Clean("/" + m.Source)
		cgroup := m.Type == "cgroup" || m.Type == "cgroup2" ||
			(isBind(m) && (src == cgroupRoot || strings.HasPrefix(src, cgroupRoot+"/")))
		if cgroup && !readOnly(m.Options) {
			out = append(out, m)
		}
	}
	return out
}

func isBind(m rspec.Mount) bool {
	return m.Type == "bind" || m.Type == "rbind" || slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind")
}

// readOnly reads mount options as mount(8) does: the last of "ro" and
// "rw" wins, and read-write is the default.
func readOnly(opts []string) bool {
	ro := false
	for _, o := range opts {
		switch o {
		case "ro":
			ro = true
		case "rw":
			ro = false
		}
	}
	return ro
}

// CheckWritableCgroup is check 8: a container with a writable cgroup file
// system must run in a user namespace that maps no host root. In the host's
// user namespace, or with host UID or GID 0 mapped, its root could rewrite
// the limits of its own and, through a bind mount, other cgroups, as host
// root; in a user namespace of its own, the kernel holds it to the cgroups
// delegated to that namespace's root. A container that holds CAP_SYS_ADMIN
// in the host's user namespace (a privileged one) could mount a writable
// cgroup file system itself, so its mount adds nothing and is let be.
func CheckWritableCgroup(mounts []rspec.Mount, hostUserns, sysAdmin bool, uids, gids []rspec.LinuxIDMapping) []Finding {
	w := WritableCgroupMounts(mounts)
	if len(w) == 0 {
		return nil
	}
	where := fmt.Sprintf("%s (%s)", w[0].Destination, describeMount(w[0]))
	fix := "run the pod in a user namespace of its own that maps no host root (hostUsers: false, or userns-mode \"auto\"), or drop the io.kubernetes.cri-o.cgroup2-mount-hierarchy-rw annotation (cgroup2-mount-hierarchy-rw.crio.io) or the read-write cgroup mount"
	switch {
	case hostUserns && sysAdmin:
		return nil
	case hostUserns:
		return []Finding{{
			Check:  WritableCgroup,
			Reason: fmt.Sprintf("cgroup file system mounted writable at %s in the host's user namespace, where the container's root is host root", where),
			Fix:    fix,
		}}
	}
	var out []Finding
	for _, side := range []struct {
		k    Kind
		maps []rspec.LinuxIDMapping
	}{{UID, uids}, {GID, gids}} {
		for i, m := range side.maps {
			if m.Size == 0 || !idmap.HostRange(m).Contains(0) {
				continue
			}
			out = append(out, Finding{
				Check: WritableCgroup, Map: side.k.Map, Extent: idmap.ExtentString(m),
				Reason: fmt.Sprintf("cgroup file system mounted writable at %s in a user namespace whose %s extent #%d (%s) maps host %s 0 (root)",
					where, side.k.Map, i+1, idmap.ExtentString(m), side.k.ID),
				Fix: fix,
			})
		}
	}
	return out
}

func describeMount(m rspec.Mount) string {
	if isBind(m) {
		return "bind mount of " + m.Source
	}
	return m.Type + ", " + strings.Join(m.Options, ",")
}

// hasCap reports whether caps holds the capability named "CAP_X" or "X".
func hasCap(caps []string, name string) bool {
	return slices.ContainsFunc(caps, func(c string) bool {
		return strings.EqualFold(strings.TrimPrefix(strings.ToUpper(c), "CAP_"), name)
	})
}

func runWritableCgroup(in *Input) Result {
	var bounding []string
	if p := in.Spec.Process; p != nil && p.Capabilities != nil {
		bounding = p.Capabilities.Bounding
	}
	return Result{Findings: CheckWritableCgroup(in.Spec.Mounts, !in.Userns, hasCap(bounding, "SYS_ADMIN"), in.UIDs, in.GIDs)}
}
