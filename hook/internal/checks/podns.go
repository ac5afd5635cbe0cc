package checks

import (
	"fmt"
	"strings"

	"github.com/crio-userns/crio-userns/hook/internal/nsfs"
)

// PodNamespace is a namespace of the pod (network, IPC, UTS) that the
// container joins by path, and the user namespace that owns it.
type PodNamespace struct {
	Type  string // "network", "ipc", "uts"
	Path  string
	Owner nsfs.ID
	Err   error // the owner could not be told
}

// RegisteredPod is a user namespace the registry holds for a pod.
type RegisteredPod struct {
	Pod       string // "namespace/name"
	Container string // the container that registered it
	NS        nsfs.ID
}

const fixPodUserns = "delete and recreate the pod: its containers must share the pod's user namespace (CRI-O loses it for containers created after a restart without its sandbox's user namespace; see crio-userns-hook(8))"

// CheckPodUserns is check 9: a container runs in its pod's user namespace.
// The pod's network, IPC and UTS namespaces, which its containers join,
// were created in the pod's user namespace and are owned by it; a pod the
// registry already holds in a user namespace has one. A container of such
// a pod that runs in the host's user namespace (userns is the host's
// namespace) or in another one is refused: on pristine CRI-O v1.36.3, a
// container created after a restart can land in the host's user namespace
// as host root, with no user namespace in its config.json at all.
// userns is the container's user namespace, zero when not known (offline,
// a namespace still to be created).
func CheckPodUserns(userns, host nsfs.ID, podNS []PodNamespace, registered, otherPod *RegisteredPod) []Finding {
	describe := func(id nsfs.ID) string {
		if id == host {
			return "the host's user namespace"
		}
		return "user namespace " + id.String()
	}
	var out []Finding
	// One finding per foreign owner, naming the namespaces it owns.
	var owners []nsfs.ID
	byOwner := map[nsfs.ID][]PodNamespace{}
	for _, p := range podNS {
		switch {
		case p.Err != nil:
			out = append(out, Finding{
				Check:  PodUserns,
				Reason: fmt.Sprintf("cannot tell which user namespace owns the pod's %s namespace: %v", p.Type, p.Err),
				Fix:    "the runtime was handed a namespace path that is not a namespace: recreate the pod",
			})
		case userns.IsZero() || p.Owner == host || p.Owner == userns:
		default:
			if byOwner[p.Owner] == nil {
				owners = append(owners, p.Owner)
			}
			byOwner[p.Owner] = append(byOwner[p.Owner], p)
		}
	}
	for _, o := range owners {
		ps := byOwner[o]
		what := fmt.Sprintf("%s namespace (%s) belongs", ps[0].Type, ps[0].Path)
		if len(ps) > 1 {
			types := make([]string, len(ps))
			for i, p := range ps {
				types[i] = p.Type
			}
			what = fmt.Sprintf("%s and %s namespaces (%s, ...) belong", strings.Join(types[:len(types)-1], ", "), types[len(types)-1], ps[0].Path)
		}
		out = append(out, Finding{
			Check:  PodUserns,
			Reason: fmt.Sprintf("container runs in %s, but its pod's %s to user namespace %s", describe(userns), what, o),
			Fix:    fixPodUserns,
		})
	}
	if registered != nil && !userns.IsZero() && registered.NS != userns {
		out = append(out, Finding{
			Check: PodUserns,
			Reason: fmt.Sprintf("container runs in %s, but its pod %s already runs containers in user namespace %s (container %s)",
				describe(userns), Printable(registered.Pod), registered.NS, Printable(registered.Container)),
			Fix: fixPodUserns,
		})
	}
	if otherPod != nil {
		out = append(out, Finding{
			Check: PodUserns,
			Reason: fmt.Sprintf("container runs in user namespace %s, which pod %s runs in (container %s): two pods would share their IDs",
				otherPod.NS, Printable(otherPod.Pod), Printable(otherPod.Container)),
			Fix: "give each pod its own user namespace; delete and recreate the pod",
		})
	}
	return out
}

func runPodUserns(in *Input) Result {
	if in.UsernsID.IsZero() && in.Live == nil && in.Userns {
		// Offline, a namespace the runtime has still to create.
		return Result{Skipped: "no container process offline (checked by the hook at container start)"}
	}
	var reg, other *RegisteredPod
	if in.Registry != nil {
		reg, other = in.Registry.PodElsewhere, in.Registry.OtherPod
	}
	return Result{Findings: CheckPodUserns(in.UsernsID, in.HostUsernsID, in.PodNamespaces, reg, other)}
}
