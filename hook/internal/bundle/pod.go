package bundle

import (
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// Annotation keys CRI-O puts into every workload container's config.json.
// The kubelet's pod labels are written after the pod's own annotations, so
// a pod cannot pose as another namespace with an annotation of these names.
const (
	AnnotationPodNamespace  = "io.kubernetes.pod.namespace"
	AnnotationPodName       = "io.kubernetes.pod.name"
	AnnotationPodUID        = "io.kubernetes.pod.uid"
	AnnotationContainerName = "io.kubernetes.container.name"
	AnnotationSandboxID     = "io.kubernetes.cri-o.SandboxID"
	AnnotationContainerID   = "io.kubernetes.cri-o.ContainerID"
)

// The userns-mode annotation, v2 key and the deprecated v1 one CRI-O still
// honours. CRI-O copies the sandbox's annotations (the runtime handler's
// default_annotations, then the pod's allowed ones: exactly those it took
// the mode from) into every container's config.json, so a container whose
// user namespace CRI-O built from this annotation carries it.
const (
	AnnotationUsernsMode   = "userns-mode.crio.io"
	AnnotationUsernsModeV1 = "io.kubernetes.cri-o.userns-mode"
)

// UsernsMode returns the userns-mode annotation the way CRI-O reads it
// (pkg/annotations/v2 GetAnnotationValue: the v2 key when present, even
// empty, else the v1 key) and the key it came from; "" when there is none
// or it is empty, which CRI-O treats alike.
func UsernsMode(s *rspec.Spec) (key, value string) {
	if s == nil {
		return "", ""
	}
	for _, k := range []string{AnnotationUsernsMode, AnnotationUsernsModeV1} {
		if v, ok := s.Annotations[k]; ok {
			if v == "" {
				return "", ""
			}
			return k, v
		}
	}
	return "", ""
}

// Target names the container a verdict is about.
type Target struct {
	Namespace, Pod, PodUID, SandboxID string
	Container, ContainerID            string
}

// TargetOf reads the pod and container names from the spec's annotations,
// falling back to the state's (runtimes copy them) and to the container ID.
func TargetOf(spec *rspec.Spec, st *rspec.State) Target {
	get := func(key string) string {
		if spec != nil {
			if v := spec.Annotations[key]; v != "" {
				return v
			}
		}
		if st != nil {
			return st.Annotations[key]
		}
		return ""
	}
	t := Target{
		Namespace:   get(AnnotationPodNamespace),
		Pod:         get(AnnotationPodName),
		PodUID:      get(AnnotationPodUID),
		SandboxID:   get(AnnotationSandboxID),
		Container:   get(AnnotationContainerName),
		ContainerID: get(AnnotationContainerID),
	}
	if st != nil && st.ID != "" {
		t.ContainerID = st.ID
	}
	if t.Container == "" {
		t.Container = t.ContainerID
	}
	return t
}

// String is "<namespace>/<pod>/<container>", the prefix of the hook's
// one-line verdict; unknown parts read "-".
func (t Target) String() string {
	return dash(t.Namespace) + "/" + dash(t.Pod) + "/" + dash(t.Container)
}

// PodKey identifies the pod, hence its user namespace: the sandbox ID,
// else the pod UID, else namespace/name.
func (t Target) PodKey() string {
	switch {
	case t.SandboxID != "":
		return "sandbox:" + t.SandboxID
	case t.PodUID != "":
		return "uid:" + t.PodUID
	case t.Namespace != "" || t.Pod != "":
		return "name:" + t.Namespace + "/" + t.Pod
	}
	return ""
}

// dash also strips control characters: the names end up on the one line
// CRI-O shows, and in log records.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
