package podrun

import (
	"encoding/json"
	"hash/fnv"
	"maps"
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

// Label and annotation keys the kubelet puts on CRI objects
// (k8s.io/kubelet pkg/types labels.go, pkg/kubelet/kuberuntime labels.go).
const (
	LabelPodName       = "io.kubernetes.pod.name"
	LabelPodNamespace  = "io.kubernetes.pod.namespace"
	LabelPodUID        = "io.kubernetes.pod.uid"
	LabelContainerName = "io.kubernetes.container.name"

	annotationTerminationGracePeriod   = "io.kubernetes.pod.terminationGracePeriod"
	annotationDeletionGracePeriod      = "io.kubernetes.pod.deletionGracePeriod"
	annotationContainerHash            = "io.kubernetes.container.hash"
	annotationRestartCount             = "io.kubernetes.container.restartCount"
	annotationTerminationMessagePath   = "io.kubernetes.container.terminationMessagePath"
	annotationTerminationMessagePolicy = "io.kubernetes.container.terminationMessagePolicy"
	annotationPreStopHandler           = "io.kubernetes.container.preStopHandler"
	annotationContainerPorts           = "io.kubernetes.container.ports"
)

// newPodLabels emulates kuberuntime labels.go newPodLabels: the pod's labels
// plus its name, namespace and UID.
func newPodLabels(pod *corev1.Pod) map[string]string {
	labels := maps.Clone(pod.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelPodName] = pod.Name
	labels[LabelPodNamespace] = pod.Namespace
	labels[LabelPodUID] = string(pod.UID)
	return labels
}

// newPodAnnotations emulates kuberuntime labels.go newPodAnnotations: all of
// the pod's annotations, unfiltered (CRI-O filters them against the runtime
// handler's and workload's allowed_annotations itself).
func newPodAnnotations(pod *corev1.Pod) map[string]string {
	return maps.Clone(pod.Annotations)
}

// newContainerLabels emulates kuberuntime labels.go newContainerLabels.
func newContainerLabels(ctr *corev1.Container, pod *corev1.Pod) map[string]string {
	return map[string]string{
		LabelPodName:       pod.Name,
		LabelPodNamespace:  pod.Namespace,
		LabelPodUID:        string(pod.UID),
		LabelContainerName: ctr.Name,
	}
}

// newContainerAnnotations emulates kuberuntime labels.go
// newContainerAnnotations for a first attempt (restart count 0) with no
// device-plugin annotations.
func newContainerAnnotations(ctr *corev1.Container, pod *corev1.Pod) map[string]string {
	a := map[string]string{
		annotationContainerHash:            strconv.FormatUint(hashContainer(ctr), 16),
		annotationRestartCount:             "0",
		annotationTerminationMessagePath:   ctr.TerminationMessagePath,
		annotationTerminationMessagePolicy: string(ctr.TerminationMessagePolicy),
	}
	if pod.DeletionGracePeriodSeconds != nil {
		a[annotationDeletionGracePeriod] = strconv.FormatInt(*pod.DeletionGracePeriodSeconds, 10)
	}
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		a[annotationTerminationGracePeriod] = strconv.FormatInt(*pod.Spec.TerminationGracePeriodSeconds, 10)
	}
	if ctr.Lifecycle != nil && ctr.Lifecycle.PreStop != nil {
		if raw, err := json.Marshal(ctr.Lifecycle.PreStop); err == nil {
			a[annotationPreStopHandler] = string(raw)
		}
	}
	if len(ctr.Ports) > 0 {
		if raw, err := json.Marshal(ctr.Ports); err == nil {
			a[annotationContainerPorts] = string(raw)
		}
	}
	return a
}

// hashContainer stands in for kubecontainer.HashContainer: an FNV-32a hash of
// the container's JSON. Only its presence matters to CRI-O; the kubelet uses
// it to notice spec changes.
func hashContainer(ctr *corev1.Container) uint64 {
	h := fnv.New32a()
	raw, _ := json.Marshal(ctr)
	h.Write(raw)
	return uint64(h.Sum32())
}
