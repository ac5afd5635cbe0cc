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
)

// SCCNames lists the accepted --scc values.
var SCCNames = []string{SCCNone, SCCRestricted, SCCRestrictedV2, SCCAnyUID}

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
	runAsUser                string  // runAsAny or mustRunAsRange
	uidRange                 IDRange // MustRunAsRange's range, from the namespace
	fsGroup                  string  // runAsAny or mustRunAs
	supplementalGroups       string  // runAsAny or mustRunAs
	seccompProfiles          []string
	volumes                  []string
}

// The SCC objects as the cluster ships them: openshift/cluster-kube-apiserver-
// operator bindata/bootkube/scc-manifests/0000_20_kube-apiserver-operator_00_
// scc-{restricted,restricted-v2,anyuid}.yaml. SELinux (MustRunAs with the
// namespace's MCS level) is left out: the bench node has no SELinux, and CRI-O
// ignores the label there.
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
	// own range takes the namespace's pre-allocated one.
	c.uidRange = ranges.UIDs

	var errs field.ErrorList
	podPath := field.NewPath(fmt.Sprintf("provider %s: ", c.name)).Child("spec", "securityContext")

	c.mutatePod(out, ranges)
	errs = append(errs, c.validatePod(out, podPath, ranges)...)

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
