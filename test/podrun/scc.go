package podrun

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// SCC names podrun can admit a pod with. SCCNone skips admission entirely:
// the manifest reaches the node as written (plus API defaults).
const (
	SCCNone         = "none"
	SCCRestricted   = "restricted"
	SCCRestrictedV2 = "restricted-v2"
	SCCAnyUID       = "anyuid"
	// SCCRestrictedV3 and SCCNestedContainer are OpenShift's own answer to
	// user namespaces (4.20 and later): both require hostUsers: false.
	SCCRestrictedV3    = "restricted-v3"
	SCCNestedContainer = "nested-container"
)

// SCCNames lists the accepted --scc values.
var SCCNames = []string{SCCNone, SCCRestricted, SCCRestrictedV2, SCCRestrictedV3, SCCNestedContainer, SCCAnyUID}

// ValidatedSCCAnnotation is the pod annotation OpenShift's admission sets to
// the name of the SCC that admitted the pod (openshift/api security/v1
// ValidatedSCCAnnotation; sccadmission/admission.go Admit).
const ValidatedSCCAnnotation = "openshift.io/scc"

// NamespaceRanges are the ID blocks OpenShift pre-allocates to a project and
// records as namespace annotations.
type NamespaceRanges struct {
	// UIDs is openshift.io/sa.scc.uid-range.
	UIDs IDRange
	// SupplementalGroups is openshift.io/sa.scc.supplemental-groups. When zero
	// the UID range is used, as sccmatching/matcher.go
	// getSupplementalGroupsAnnotation falls back to the uid-range annotation.
	SupplementalGroups IDRange
}

func (r NamespaceRanges) groups() IDRange {
	if r.SupplementalGroups.IsZero() {
		return r.UIDs
	}
	return r.SupplementalGroups
}

// Strategy type names, as in openshift/api security/v1.
const (
	runAsAny       = "RunAsAny"
	mustRunAsRange = "MustRunAsRange"
	mustRunAs      = "MustRunAs"
)

// constraints is the part of a securityv1.SecurityContextConstraints that the
// three emulated SCCs use.
type constraints struct {
	name                     string
	allowPrivilegedContainer bool
	allowHostNetwork         bool
	allowHostPID             bool
	allowHostIPC             bool
	allowHostPorts           bool
	allowPrivilegeEscalation *bool
	readOnlyRootFilesystem   bool
	defaultAddCapabilities   []corev1.Capability
	requiredDropCapabilities []corev1.Capability
	allowedCapabilities      []corev1.Capability
	runAsUser                string // runAsAny or mustRunAsRange
	// uidRange is MustRunAsRange's range: the SCC's own uidRangeMin and
	// uidRangeMax when it sets them, else the namespace's (Admit resolves it).
	uidRange           IDRange
	fsGroup            string    // runAsAny or mustRunAs
	fsGroupRanges      []IDRange // the SCC's own ranges, else the namespace's (Admit)
	supplementalGroups string    // runAsAny or mustRunAs
	supplementalRanges []IDRange // the SCC's own ranges, else the namespace's (Admit)
	seccompProfiles    []string
	volumes            []string
	// userNamespaceLevel is requirePodLevel when the pod must set
	// hostUsers: false; empty is AllowHostLevel, the API default.
	userNamespaceLevel string
}

// requirePodLevel is securityv1.NamespaceLevelRequirePod.
const requirePodLevel = "RequirePodLevel"

// The SCC objects as the cluster ships them: openshift/cluster-kube-apiserver-
// operator bindata/bootkube/scc-manifests/0000_20_kube-apiserver-operator_00_
// scc-{restricted,restricted-v2,restricted-v3,nested-container,anyuid}.yaml
// (restricted-v3 and nested-container as on its main branch in August 2026,
// after their uidRangeMin/uidRangeMax fixes). SELinux (MustRunAs with the
// namespace's MCS level; container_engine_t for nested-container) is left
// out: the bench node has no SELinux, and CRI-O ignores the label there.
var sccDefinitions = map[string]constraints{
	SCCRestricted: {
		name:                     SCCRestricted,
		allowPrivilegeEscalation: ptr(true),
		requiredDropCapabilities: []corev1.Capability{"KILL", "MKNOD", "SETUID", "SETGID"},
		runAsUser:                mustRunAsRange,
		fsGroup:                  mustRunAs,
		supplementalGroups:       runAsAny,
		volumes:                  []string{"configMap", "downwardAPI", "emptyDir", "persistentVolumeClaim", "projected", "secret"},
	},
	SCCRestrictedV2: {
		name:                     SCCRestrictedV2,
		allowPrivilegeEscalation: ptr(false),
		allowedCapabilities:      []corev1.Capability{"NET_BIND_SERVICE"},
		requiredDropCapabilities: []corev1.Capability{"ALL"},
		runAsUser:                mustRunAsRange,
		fsGroup:                  mustRunAs,
		supplementalGroups:       runAsAny,
		seccompProfiles:          []string{corev1.SeccompProfileRuntimeDefault},
		volumes:                  []string{"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"},
	},
	SCCRestrictedV3: {
		name:                     SCCRestrictedV3,
		allowPrivilegeEscalation: ptr(false),
		allowedCapabilities:      []corev1.Capability{"NET_BIND_SERVICE"},
		requiredDropCapabilities: []corev1.Capability{"ALL"},
		runAsUser:                mustRunAsRange,
		uidRange:                 IDRange{First: 1000, Last: 65534},
		fsGroup:                  mustRunAs,
		fsGroupRanges:            []IDRange{{First: 1000, Last: 65534}},
		supplementalGroups:       mustRunAs,
		supplementalRanges:       []IDRange{{First: 1000, Last: 65534}},
		seccompProfiles:          []string{corev1.SeccompProfileRuntimeDefault},
		volumes:                  []string{"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image", "persistentVolumeClaim", "projected", "secret"},
		userNamespaceLevel:       requirePodLevel,
	},
	SCCNestedContainer: {
		name:                     SCCNestedContainer,
		allowPrivilegeEscalation: ptr(true),
		allowedCapabilities:      []corev1.Capability{"SETUID", "SETGID"},
		runAsUser:                mustRunAsRange,
		uidRange:                 IDRange{First: 0, Last: 65534},
		fsGroup:                  mustRunAs,
		fsGroupRanges:            []IDRange{{First: 0, Last: 65534}},
		supplementalGroups:       mustRunAs,
		supplementalRanges:       []IDRange{{First: 0, Last: 65534}},
		seccompProfiles:          []string{"*"},
		volumes:                  []string{"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image", "persistentVolumeClaim", "projected", "secret"},
		userNamespaceLevel:       requirePodLevel,
	},
	SCCAnyUID: {
		name:                     SCCAnyUID,
		allowPrivilegeEscalation: ptr(true),
		requiredDropCapabilities: []corev1.Capability{"MKNOD"},
		runAsUser:                runAsAny,
		fsGroup:                  runAsAny,
		supplementalGroups:       runAsAny,
		volumes:                  []string{"configMap", "downwardAPI", "emptyDir", "persistentVolumeClaim", "projected", "secret"},
	},
}

// AdmissionError is OpenShift's rejection of a pod by SCC admission.
type AdmissionError struct {
	Pod  string
	SCC  string
	Errs field.ErrorList
}

// Error renders the rejection as the API server returns it (sccadmission
// admission.go Admit: admission.NewForbidden with "unable to validate against
// any security context constraint: %v" over the aggregated field errors). Only
// the one SCC podrun was asked for is tried, so no other provider's
// "not usable by user or serviceaccount" entries appear.
func (e *AdmissionError) Error() string {
	return fmt.Sprintf("pods %q is forbidden: unable to validate against any security context constraint: %v",
		e.Pod, e.Errs.ToAggregate())
}

// Admit runs OpenShift's SCC admission for one SCC over a copy of pod and
// returns the mutated copy, or an *AdmissionError. scc is one of SCCNames.
//
// The order and the field paths follow the OpenShift 4.10 matcher that field
// report 000 ran into (apiserver-library-go pkg/securitycontextconstraints/
// sccmatching/matcher.go AssignSecurityContext): the pod security context is
// mutated and validated first, with pod-level paths under
// "provider <scc>: .spec.securityContext"; then each init container and each
// container is mutated and validated, with paths
// "spec.initContainers[i].securityContext" and
// "spec.containers[i].securityContext".
//
// A pod-level runAsUser is never defaulted: no pod mutator touches it (the
// defect under study). It is validated only through each container's effective
// security context, so a pod-level runAsUser out of range is reported at the
// path of every container that inherits it, and is not checked at all when
// every container sets its own; OpenShift has no pod-level runAsUser check.
func Admit(pod *corev1.Pod, scc string, ranges NamespaceRanges) (*corev1.Pod, error) {
	out := pod.DeepCopy()
	if scc == SCCNone {
		return out, nil
	}
	c, ok := sccDefinitions[scc]
	if !ok {
		return nil, fmt.Errorf("unknown SCC %q (known: %v)", scc, SCCNames)
	}
	if ranges.UIDs.IsZero() {
		ranges.UIDs = DefaultUIDRange
	}
	// sccmatching/matcher.go CreateProviderFromConstraint: an SCC without its
	// own ranges takes the namespace's pre-allocated ones (getPreallocatedFSGroup:
	// the first group of the supplemental-groups block, alone).
	if c.uidRange.IsZero() {
		c.uidRange = ranges.UIDs
	}
	if c.fsGroupRanges == nil {
		first := ranges.groups().First
		c.fsGroupRanges = []IDRange{{First: first, Last: first}}
	}
	if c.supplementalRanges == nil {
		c.supplementalRanges = []IDRange{ranges.groups()}
	}

	var errs field.ErrorList
	podPath := field.NewPath(fmt.Sprintf("provider %s: ", c.name)).Child("spec", "securityContext")

	c.mutatePod(out)
	errs = append(errs, c.validatePod(out, podPath)...)

	for i := range out.Spec.InitContainers {
		path := field.NewPath("spec", "initContainers").Index(i)
		ctr := &out.Spec.InitContainers[i]
		c.mutateContainer(out, ctr)
		errs = append(errs, c.validateContainer(out, ctr, path)...)
	}
	for i := range out.Spec.Containers {
		path := field.NewPath("spec", "containers").Index(i)
		ctr := &out.Spec.Containers[i]
		c.mutateContainer(out, ctr)
		errs = append(errs, c.validateContainer(out, ctr, path)...)
	}
	if len(errs) > 0 {
		return nil, &AdmissionError{Pod: pod.Name, SCC: c.name, Errs: errs}
	}

	// sccadmission/admission.go Admit: annotate the admitted pod.
	if out.Annotations == nil {
		out.Annotations = map[string]string{}
	}
	out.Annotations[ValidatedSCCAnnotation] = c.name
	return out, nil
}
