package checks

import (
	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// KubeletUnit is the kubelet's unit of user namespace allocation
// (pkg/kubelet/userns userNsUnitLength): the IDs per pod and the kubelet's
// range start are multiples of it.
const KubeletUnit = 1 << 16

// Origin is what check 3 can tell about who chose a container's mappings.
//
// CRI-O builds a pod's user namespace from the kubelet's UsernsOptions
// (native Kubernetes user namespaces, pod hostUsers: false), from the
// userns-mode annotation, or from its own uid_mappings/gid_mappings
// configuration. Only the annotation is in the pod author's hands, and a
// container whose mappings CRI-O took from it carries it in config.json.
// The kubelet always allocates one extent "0 H N", the same for UIDs and
// GIDs, with H and N multiples of 65536 (userns_manager.go refuses anything
// else when it reads its own records back).
type Origin struct {
	// Annotation is the userns-mode annotation key the container carries
	// with a non-empty value; "" when none.
	Annotation string
	// KubeletShaped says the maps have the shape the kubelet allocates.
	KubeletShaped bool
}

// Native reports whether the container's user namespace is a native
// Kubernetes one, whose host IDs come from the kubelet's range: no
// userns-mode annotation, and the kubelet's shape.
func (o Origin) Native() bool { return o.Annotation == "" && o.KubeletShaped }

// OriginOf classifies a container from its userns-mode annotation key ("" if
// none, see bundle.UsernsMode) and the mappings in force.
func OriginOf(annotation string, uids, gids []rspec.LinuxIDMapping) Origin {
	return Origin{Annotation: annotation, KubeletShaped: kubeletShaped(uids, gids)}
}

func kubeletShaped(uids, gids []rspec.LinuxIDMapping) bool {
	if len(uids) != 1 || len(gids) != 1 || uids[0] != gids[0] {
		return false
	}
	m := uids[0]
	return m.ContainerID == 0 && m.Size > 0 && m.Size%KubeletUnit == 0 && m.HostID%KubeletUnit == 0
}
