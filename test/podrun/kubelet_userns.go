package podrun

import (
	"fmt"
	"hash/fnv"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// UsernsBlockSize is the size of every pod user namespace the kubelet
// allocates (pkg/kubelet/userns userns_manager.go userNsLength).
const UsernsBlockSize = 1 << 16

// UsernsRange is the host ID range the kubelet hands pod user namespaces out
// of (pkg/kubelet getKubeletMappings): on a real node, what `getsubids
// kubelet` reports (the "kubelet" entry of /etc/subuid and /etc/subgid) when
// the user kubelet exists and getsubids is installed, else the kubelet's
// built-in default, DefaultUsernsRange.
type UsernsRange struct {
	// First host ID; a multiple of UsernsBlockSize and at least one block
	// up, as MakeUserNsManager requires.
	First uint32
	// Blocks is how many UsernsBlockSize blocks the range holds.
	Blocks uint32
}

// DefaultUsernsRange is the kubelet's own default (getKubeletMappings:
// defaultFirstID = 1<<16, defaultLen = 1<<32 - defaultFirstID): every ID
// above 0-65535, in 65535 blocks. Like the kubelet's, it overlaps the
// containers:200000:268435456 subordinate range CRI-O's auto user namespaces
// use (a running auto pod and a hostUsers: false pod may then collide, which
// crio-userns-hook's check 7 refuses), and its last block ends at
// 4294967295, which the kernel does not accept in a uid_map (one pod in
// 65535 picks it, with podrun as with the kubelet's bitmap). A node that
// wants the kubelet's pods apart gives the kubelet its own subid range, and
// tests pass it as KubeletConfig.Userns.
var DefaultUsernsRange = UsernsRange{First: 1 << 16, Blocks: (1<<32 - 1<<16) / UsernsBlockSize}

// validate applies MakeUserNsManager's checks.
func (r UsernsRange) validate() error {
	switch {
	case r.First%UsernsBlockSize != 0:
		return fmt.Errorf("user namespace range start %d is not a multiple of %d", r.First, UsernsBlockSize)
	case r.First < UsernsBlockSize:
		return fmt.Errorf("user namespace range start %d must be at least %d", r.First, UsernsBlockSize)
	case r.Blocks == 0:
		return fmt.Errorf("user namespace range holds no %d-ID block", UsernsBlockSize)
	case uint64(r.First)+uint64(r.Blocks)*UsernsBlockSize > 1<<32:
		return fmt.Errorf("user namespace range %d + %d blocks passes 2^32", r.First, r.Blocks)
	}
	return nil
}

// userNamespaceFor emulates the kubelet's UsernsManager
// GetOrCreateUserNamespaceMappings. With the UserNamespacesSupport gate on,
// a pod without hostUsers: false gets Mode NODE (which makes CRI-O 1.36 ignore
// the io.kubernetes.cri-o.userns-mode annotation entirely: see
// server/sandbox_run_linux.go configureSandboxIDMappings); with it off, the
// kubelet sends no UsernsOptions, as OpenShift 4.10's did.
//
// For hostUsers: false the kubelet takes a free 65536-ID block from an
// allocation bitmap (allocateOne) and maps 0..65535 onto it for both UIDs and
// GIDs. podrun keeps no state between runs, so it picks the block from an
// FNV-32a hash of the pod UID instead: stable for one pod (sandbox and
// containers agree), spread like the bitmap's random scan, but two live pods
// may collide (1 in Blocks), which only weakens isolation between those two.
func userNamespaceFor(pod *corev1.Pod, gate bool, r UsernsRange) (*runtimeapi.UserNamespace, error) {
	if pod.Spec.HostUsers == nil || *pod.Spec.HostUsers {
		if gate {
			return &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_NODE}, nil
		}
		return nil, nil
	}
	if err := r.validate(); err != nil {
		return nil, err
	}
	h := fnv.New32a()
	h.Write([]byte(pod.UID))
	first := r.First + (h.Sum32()%r.Blocks)*UsernsBlockSize
	m := func() []*runtimeapi.IDMapping {
		return []*runtimeapi.IDMapping{{ContainerId: 0, HostId: first, Length: UsernsBlockSize}}
	}
	return &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: m(), Gids: m()}, nil
}
