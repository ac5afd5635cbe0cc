package podrun

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The strategies below follow openshift/apiserver-library-go
// pkg/securitycontextconstraints; each function names the file and function
// it emulates. Pod-level strategies see the pod security context; container
// strategies see the container's *effective* context, as OpenShift's
// securitycontext.NewEffectiveContainerSecurityContextMutator presents it:
// reads fall back to the pod value, writes land on the container only when
// the value differs from what is already effective.

// mutatePod emulates the pod mutators (sccmatching/provider.go mutatePod, in
// 4.10 CreatePodSecurityContext): fsGroup and supplementalGroups defaulting
// and the seccomp profile. No pod mutator touches runAsUser.
func (c constraints) mutatePod(pod *corev1.Pod) {
	if pod.Spec.SecurityContext == nil {
		pod.Spec.SecurityContext = &corev1.PodSecurityContext{}
	}
	psc := pod.Spec.SecurityContext

	// group/mustrunas.go GenerateSingle and Generate: the first ID of the
	// first range.
	if c.fsGroup == mustRunAs && psc.FSGroup == nil {
		psc.FSGroup = ptr(int64(c.fsGroupRanges[0].First))
	}
	if c.supplementalGroups == mustRunAs && len(psc.SupplementalGroups) == 0 {
		psc.SupplementalGroups = []int64{int64(c.supplementalRanges[0].First)}
	}

	// seccomp/strategy.go Generate: an existing field or annotation wins,
	// else the SCC's first allowed profile other than "*"; provider.go mutatePod writes it as
	// the pod annotation and as the pod field.
	var profile string
	switch {
	case psc.SeccompProfile != nil:
		profile = seccompAnnotationForField(psc.SeccompProfile)
	case pod.Annotations[corev1.SeccompPodAnnotationKey] != "":
		profile = pod.Annotations[corev1.SeccompPodAnnotationKey]
	default:
		// The first profile that is not the wildcard "*".
		for _, p := range c.seccompProfiles {
			if p != "*" {
				profile = p
				break
			}
		}
	}
	if profile != "" {
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		pod.Annotations[corev1.SeccompPodAnnotationKey] = profile
		if f := seccompFieldForAnnotation(profile); f != nil {
			psc.SeccompProfile = f
		}
	}
}

// validatePod emulates the pod validators (4.10 provider.go
// ValidatePodSecurityContext, with the userNamespaceLevel check of 4.20):
// fsGroup, supplementalGroups, host namespaces, host users, seccomp, sysctls
// and volume types.
func (c constraints) validatePod(pod *corev1.Pod, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	psc := pod.Spec.SecurityContext

	if c.fsGroup == mustRunAs {
		var groups []int64
		if psc.FSGroup != nil {
			groups = []int64{*psc.FSGroup}
		}
		errs = append(errs, validateGroups(path.Child("fsGroup"), groups, c.fsGroupRanges)...)
	}
	if c.supplementalGroups == mustRunAs {
		errs = append(errs, validateGroups(path.Child("supplementalGroups"), psc.SupplementalGroups, c.supplementalRanges)...)
	}

	// sccmatching/checks.go NewPodBoolChecker for hostNetwork, hostPID, hostIPC.
	if !c.allowHostNetwork && pod.Spec.HostNetwork {
		errs = append(errs, field.Invalid(path.Child("hostNetwork"), true, "Host network is not allowed to be used"))
	}
	if !c.allowHostPID && pod.Spec.HostPID {
		errs = append(errs, field.Invalid(path.Child("hostPID"), true, "Host PID is not allowed to be used"))
	}
	if !c.allowHostIPC && pod.Spec.HostIPC {
		errs = append(errs, field.Invalid(path.Child("hostIPC"), true, "Host IPC is not allowed to be used"))
	}
	// provider.go ValidatePodSecurityContext: an SCC that requires a pod-level
	// user namespace admits only hostUsers: false (unset reads "null").
	if c.userNamespaceLevel == requirePodLevel && (pod.Spec.HostUsers == nil || *pod.Spec.HostUsers) {
		errs = append(errs, field.Invalid(path.Child("hostUsers"), pod.Spec.HostUsers, "Host Users must be set to false"))
	}

	// seccomp/strategy.go ValidatePod.
	podProfile := pod.Annotations[corev1.SeccompPodAnnotationKey]
	if podProfile == "" && psc.SeccompProfile != nil {
		podProfile = seccompAnnotationForField(psc.SeccompProfile)
	}
	if err := c.validateSeccompProfile(field.NewPath("pod", "metadata", "annotations").Key(corev1.SeccompPodAnnotationKey), podProfile); err != nil {
		errs = append(errs, err)
	}

	// sysctl/mustmatchpatterns.go Validate, with the safe allowlist and no
	// allowed-unsafe or forbidden patterns (none of the three SCCs sets them).
	sysctlPath := field.NewPath("spec", "securityContext").Child("sysctls")
	for i, s := range psc.Sysctls {
		if !slices.Contains(safeSysctls, s.Name) {
			errs = append(errs, field.Forbidden(sysctlPath.Index(i), fmt.Sprintf("unsafe sysctl %q is not allowed", s.Name)))
		}
	}

	// provider.go validatePodVolumes.
	for i, v := range pod.Spec.Volumes {
		fsType := volumeType(v.VolumeSource)
		if !slices.Contains(c.volumes, fsType) {
			errs = append(errs, field.Invalid(field.NewPath("spec", "volumes").Index(i), fsType,
				fmt.Sprintf("%s volumes are not allowed to be used", fsType)))
		}
	}
	return errs
}

// mutateContainer emulates provider.go mutateContainer (4.10:
// CreateContainerSecurityContext) for one container.
func (c constraints) mutateContainer(pod *corev1.Pod, ctr *corev1.Container) {
	if ctr.SecurityContext == nil {
		ctr.SecurityContext = &corev1.SecurityContext{}
	}
	sc := ctr.SecurityContext
	psc := pod.Spec.SecurityContext

	// user/mustrunasrange.go Generate: the range's first UID, written only
	// when no runAsUser is effective (container's, else the pod's).
	// user/runasany.go Generate returns nil: nothing to default.
	if c.runAsUser == mustRunAsRange && effectiveRunAsUser(psc, sc) == nil {
		sc.RunAsUser = ptr(int64(c.uidRange.First))
	}

	// provider.go mutateContainer: mark non-root when the effective UID is
	// known to be non-zero (or the strategy is MustRunAsNonRoot, not used
	// here), so PodSecurity's restricted profile is satisfied.
	if effectiveRunAsNonRoot(psc, sc) == nil {
		if uid := effectiveRunAsUser(psc, sc); uid != nil && *uid > 0 {
			sc.RunAsNonRoot = ptr(true)
		}
	}

	// capabilities/mustrunas.go Generate.
	if caps := generateCapabilities(c.defaultAddCapabilities, c.requiredDropCapabilities, sc.Capabilities); caps != sc.Capabilities {
		sc.Capabilities = caps
	}

	// provider.go mutateContainer: a read-only root filesystem is defaulted
	// only when the SCC requires it.
	if c.readOnlyRootFilesystem && sc.ReadOnlyRootFilesystem == nil {
		sc.ReadOnlyRootFilesystem = ptr(true)
	}

	// provider.go mutateContainer: an SCC that forbids privilege escalation
	// makes false the default.
	if c.allowPrivilegeEscalation != nil && !*c.allowPrivilegeEscalation && sc.AllowPrivilegeEscalation == nil {
		sc.AllowPrivilegeEscalation = ptr(false)
	}
}

// validateContainer emulates provider.go validateContainer and
// validateContainerSecurityContext (4.10: ValidateContainerSecurityContext)
// over the container's effective security context. path is
// spec.containers[i] or spec.initContainers[i].
func (c constraints) validateContainer(pod *corev1.Pod, ctr *corev1.Container, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	scPath := path.Child("securityContext")
	sc := ctr.SecurityContext
	psc := pod.Spec.SecurityContext

	// user/mustrunasrange.go ValidateContainer. runasany.go validates nothing.
	if c.runAsUser == mustRunAsRange {
		uid := effectiveRunAsUser(psc, sc)
		switch {
		case uid == nil:
			errs = append(errs, field.Required(scPath.Child("runAsUser"), ""))
		case !c.uidRange.ContainsID(*uid):
			errs = append(errs, field.Invalid(scPath.Child("runAsUser"), *uid,
				fmt.Sprintf("must be in the ranges: [%v, %v]", c.uidRange.First, c.uidRange.Last)))
		}
	}

	// sccmatching/checks.go checkPrivileged.
	if !c.allowPrivilegedContainer && sc.Privileged != nil && *sc.Privileged {
		errs = append(errs, field.Invalid(scPath.Child("privileged"), true, "Privileged containers are not allowed"))
	}

	// capabilities/mustrunas.go ValidateContainer.
	errs = append(errs, validateCapabilities(scPath, sc.Capabilities, c.defaultAddCapabilities, c.requiredDropCapabilities, c.allowedCapabilities)...)

	// sccmatching/checks.go checkReadOnlyFileSystem.
	if c.readOnlyRootFilesystem {
		switch ro := sc.ReadOnlyRootFilesystem; {
		case ro == nil:
			errs = append(errs, field.Invalid(scPath.Child("readOnlyRootFilesystem"), nil, "ReadOnlyRootFilesystem may not be nil and must be set to true"))
		case !*ro:
			errs = append(errs, field.Invalid(scPath.Child("readOnlyRootFilesystem"), false, "ReadOnlyRootFilesystem must be set to true"))
		}
	}

	// sccmatching/checks.go checkAllowPrivilegeEscalation.
	if c.allowPrivilegeEscalation != nil && !*c.allowPrivilegeEscalation {
		switch ape := sc.AllowPrivilegeEscalation; {
		case ape == nil:
			errs = append(errs, field.Invalid(scPath.Child("allowPrivilegeEscalation"), nil, "Allowing privilege escalation for containers is not allowed"))
		case *ape:
			errs = append(errs, field.Invalid(scPath.Child("allowPrivilegeEscalation"), true, "Allowing privilege escalation for containers is not allowed"))
		}
	}

	// seccomp/strategy.go ValidateContainer.
	if err := c.validateSeccompProfile(
		field.NewPath("pod", "metadata", "annotations").Key(corev1.SeccompContainerAnnotationKeyPrefix+ctr.Name),
		seccompProfileForContainer(pod, ctr)); err != nil {
		errs = append(errs, err)
	}

	// sccmatching/checks.go checkHostPort.
	if !c.allowHostPorts {
		for _, p := range ctr.Ports {
			if p.HostPort > 0 {
				errs = append(errs, field.Invalid(path.Child("ports").Child("hostPort"), p.HostPort, "Host ports are not allowed to be used"))
			}
		}
	}
	return errs
}

// validateGroups emulates group/mustrunas.go ValidatePod.
func validateGroups(path *field.Path, groups []int64, ranges []IDRange) field.ErrorList {
	var errs field.ErrorList
	if len(groups) == 0 {
		errs = append(errs, field.Invalid(path, groups, "unable to validate empty groups against required ranges"))
	}
	for _, g := range groups {
		if !slices.ContainsFunc(ranges, func(r IDRange) bool { return r.ContainsID(g) }) {
			errs = append(errs, field.Invalid(path, groups, fmt.Sprintf("%d is not an allowed group", g)))
		}
	}
	return errs
}

// generateCapabilities emulates capabilities/mustrunas.go Generate: required
// drops are added, default adds too unless the container drops them, and the
// original pointer comes back when nothing changes. The result lists are
// sorted, as the set arithmetic there leaves them.
func generateCapabilities(defaultAdd, requiredDrop []corev1.Capability, caps *corev1.Capabilities) *corev1.Capabilities {
	add := sets.New[string]()
	drop := sets.New[string]()
	if caps != nil {
		for _, c := range caps.Add {
			add.Insert(string(c))
		}
		for _, c := range caps.Drop {
			drop.Insert(string(c))
		}
	}
	combinedAdd := capSet(defaultAdd).Difference(drop).Union(add)
	combinedDrop := capSet(requiredDrop).Union(drop)
	if combinedAdd.Len() == add.Len() && combinedDrop.Len() == drop.Len() {
		return caps
	}
	return &corev1.Capabilities{Add: toCapabilities(sets.List(combinedAdd)), Drop: toCapabilities(sets.List(combinedDrop))}
}

// validateCapabilities emulates capabilities/mustrunas.go ValidateContainer.
func validateCapabilities(scPath *field.Path, caps *corev1.Capabilities, defaultAdd, requiredDrop, allowed []corev1.Capability) field.ErrorList {
	var errs field.ErrorList
	if caps == nil {
		if len(defaultAdd) == 0 && len(requiredDrop) == 0 {
			return nil
		}
		return field.ErrorList{field.Invalid(scPath.Child("capabilities"), caps, "required capabilities are not set on the securityContext")}
	}
	allowedSet := capSet(allowed)
	if allowedSet.Has("*") {
		return nil
	}
	defaultSet := capSet(defaultAdd)
	for _, c := range caps.Add {
		if s := string(c); !defaultSet.Has(s) && !allowedSet.Has(s) {
			errs = append(errs, field.Invalid(scPath.Child("capabilities", "add"), s, "capability may not be added"))
		}
	}
	dropped := capSet(caps.Drop)
	for _, c := range requiredDrop {
		if !dropped.Has(string(c)) {
			errs = append(errs, field.Invalid(scPath.Child("capabilities", "drop"), caps.Drop,
				fmt.Sprintf("%s is required to be dropped but was not found", c)))
		}
	}
	return errs
}

// validateSeccompProfile emulates seccomp/strategy.go validateProfile.
func (c constraints) validateSeccompProfile(path *field.Path, profile string) *field.Error {
	allowAny := slices.Contains(c.seccompProfiles, "*")
	var allowed []string
	runtimeDefaultAllowed := false
	for _, p := range c.seccompProfiles {
		if p == "*" {
			continue
		}
		if p == corev1.DeprecatedSeccompProfileDockerDefault || p == corev1.SeccompProfileRuntimeDefault {
			runtimeDefaultAllowed = true
		}
		allowed = append(allowed, p)
	}
	if !allowAny && len(allowed) == 0 && profile != "" {
		return field.Forbidden(path, "seccomp may not be set")
	}
	if len(allowed) == 0 && profile == "" || allowAny {
		return nil
	}
	if slices.Contains(allowed, profile) {
		return nil
	}
	if runtimeDefaultAllowed && (profile == corev1.DeprecatedSeccompProfileDockerDefault || profile == corev1.SeccompProfileRuntimeDefault) {
		return nil
	}
	return field.Forbidden(path, fmt.Sprintf("%s is not an allowed seccomp profile. Valid values are %v", profile, allowed))
}

// seccompProfileForContainer emulates seccomp/strategy.go profileForContainer.
func seccompProfileForContainer(pod *corev1.Pod, ctr *corev1.Container) string {
	if ctr.SecurityContext != nil && ctr.SecurityContext.SeccompProfile != nil {
		return seccompAnnotationForField(ctr.SecurityContext.SeccompProfile)
	}
	if p, ok := pod.Annotations[corev1.SeccompContainerAnnotationKeyPrefix+ctr.Name]; ok {
		return p
	}
	if pod.Spec.SecurityContext != nil && pod.Spec.SecurityContext.SeccompProfile != nil {
		return seccompAnnotationForField(pod.Spec.SecurityContext.SeccompProfile)
	}
	return pod.Annotations[corev1.SeccompPodAnnotationKey]
}

// seccompAnnotationForField emulates seccomp/strategy.go's function of the
// same name.
func seccompAnnotationForField(p *corev1.SeccompProfile) string {
	switch p.Type {
	case corev1.SeccompProfileTypeUnconfined:
		return corev1.SeccompProfileNameUnconfined
	case corev1.SeccompProfileTypeRuntimeDefault:
		return corev1.SeccompProfileRuntimeDefault
	case corev1.SeccompProfileTypeLocalhost:
		if p.LocalhostProfile != nil {
			return corev1.SeccompLocalhostProfileNamePrefix + *p.LocalhostProfile
		}
	}
	return ""
}

// seccompFieldForAnnotation emulates sccmatching/provider.go's function of
// the same name.
func seccompFieldForAnnotation(a string) *corev1.SeccompProfile {
	switch {
	case a == corev1.SeccompProfileNameUnconfined:
		return &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
	case a == corev1.SeccompProfileRuntimeDefault || a == corev1.DeprecatedSeccompProfileDockerDefault:
		return &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
	case strings.HasPrefix(a, corev1.SeccompLocalhostProfileNamePrefix):
		if name := strings.TrimPrefix(a, corev1.SeccompLocalhostProfileNamePrefix); name != "" {
			return &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &name}
		}
	}
	return nil
}

// safeSysctls is sysctl/mustmatchpatterns.go's legacy safe list plus the
// kernel-gated ones (all available on the bench's kernel).
var safeSysctls = []string{
	"kernel.shm_rmid_forced",
	"net.ipv4.ip_local_port_range",
	"net.ipv4.tcp_syncookies",
	"net.ipv4.ping_group_range",
	"net.ipv4.ip_unprivileged_port_start",
	"net.ipv4.tcp_keepalive_time",
	"net.ipv4.tcp_fin_timeout",
	"net.ipv4.tcp_keepalive_intvl",
	"net.ipv4.tcp_keepalive_probes",
	"net.ipv4.ip_local_reserved_ports",
	"net.ipv4.tcp_rmem",
	"net.ipv4.tcp_wmem",
}

// volumeType names a volume's source the way SCCs list volume types (the JSON
// field name of the one source that is set, e.g. "hostPath", "emptyDir").
func volumeType(src corev1.VolumeSource) string {
	v := reflect.ValueOf(src)
	for i := 0; i < v.NumField(); i++ {
		if f := v.Field(i); f.Kind() == reflect.Pointer && !f.IsNil() {
			name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
			return name
		}
	}
	return "none"
}

func effectiveRunAsUser(psc *corev1.PodSecurityContext, sc *corev1.SecurityContext) *int64 {
	if sc != nil && sc.RunAsUser != nil {
		return sc.RunAsUser
	}
	if psc != nil {
		return psc.RunAsUser
	}
	return nil
}

func effectiveRunAsNonRoot(psc *corev1.PodSecurityContext, sc *corev1.SecurityContext) *bool {
	if sc != nil && sc.RunAsNonRoot != nil {
		return sc.RunAsNonRoot
	}
	if psc != nil {
		return psc.RunAsNonRoot
	}
	return nil
}

func capSet(caps []corev1.Capability) sets.Set[string] {
	s := sets.New[string]()
	for _, c := range caps {
		s.Insert(string(c))
	}
	return s
}

func toCapabilities(names []string) []corev1.Capability {
	if len(names) == 0 {
		return nil
	}
	out := make([]corev1.Capability, len(names))
	for i, n := range names {
		out[i] = corev1.Capability(n)
	}
	return out
}
