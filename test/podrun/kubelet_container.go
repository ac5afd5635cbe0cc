package podrun

import (
	"fmt"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ImageInfo is what the kubelet learns about a container's image before
// creating it (EnsureImageExists and getImageUser).
type ImageInfo struct {
	// Ref is the reference as the pod spec gives it (after podrun's image
	// rewriting): ImageSpec.UserSpecifiedImage, which CRI-O 1.36 requires
	// (pitfall P4).
	Ref string
	// ID is the resolved image ID: ImageSpec.Image.
	ID string
	// UID and Username are the image's configured user (CRI Image.uid and
	// .username). getImageUser treats an image with neither as root.
	UID      *int64
	Username string
}

// imageUser emulates kuberuntime_container.go getImageUser.
func (i ImageInfo) imageUser() (*int64, string) {
	switch {
	case i.UID != nil:
		return i.UID, ""
	case i.Username != "":
		return nil, i.Username
	default:
		return ptr(int64(0)), ""
	}
}

// ContainerLogPath is where the kubelet points a first-attempt container's
// log, relative to the sandbox's LogDirectory (buildContainerLogsPath).
func ContainerLogPath(name string) string { return filepath.Join(name, "0.log") }

// ContainerConfig emulates kuberuntime_container.go generateContainerConfig
// with generateLinuxContainerConfig for attempt 0. Errors are what the
// kubelet reports as CreateContainerConfigError (e.g. verifyRunAsNonRoot).
// Mounts the kubelet would add (/etc/hosts, the termination-log file, the
// service account token) and service-link environment variables are left
// out: the bench has no API server to supply them.
func ContainerConfig(pod *corev1.Pod, ctr *corev1.Container, img ImageInfo, kc KubeletConfig) (*runtimeapi.ContainerConfig, error) {
	uid, username := img.imageUser()
	if err := verifyRunAsNonRoot(pod, ctr, uid, username); err != nil {
		return nil, err
	}
	envs, err := containerEnv(pod, ctr)
	if err != nil {
		return nil, err
	}
	command, args := expandCommandAndArgs(ctr, envs)
	linux, err := linuxContainerConfig(pod, ctr, uid, username, kc)
	if err != nil {
		return nil, err
	}
	cfg := &runtimeapi.ContainerConfig{
		Metadata:    &runtimeapi.ContainerMetadata{Name: ctr.Name, Attempt: 0},
		Image:       &runtimeapi.ImageSpec{Image: img.ID, UserSpecifiedImage: img.Ref},
		Command:     command,
		Args:        args,
		WorkingDir:  ctr.WorkingDir,
		Labels:      newContainerLabels(ctr, pod),
		Annotations: newContainerAnnotations(ctr, pod),
		LogPath:     ContainerLogPath(ctr.Name),
		Stdin:       ctr.Stdin,
		StdinOnce:   ctr.StdinOnce,
		Tty:         ctr.TTY,
		Linux:       linux,
	}
	for _, e := range envs {
		// cri-api v0.36: KeyValue.Value is bytes.
		cfg.Envs = append(cfg.Envs, &runtimeapi.KeyValue{Key: e.name, Value: []byte(e.value)})
	}
	return cfg, nil
}

// linuxContainerConfig emulates kuberuntime_container_linux.go
// generateLinuxContainerConfig.
func linuxContainerConfig(pod *corev1.Pod, ctr *corev1.Container, uid *int64, username string, kc KubeletConfig) (*runtimeapi.LinuxContainerConfig, error) {
	sc, err := containerSecurityContext(pod, ctr, uid, username, kc)
	if err != nil {
		return nil, err
	}
	return &runtimeapi.LinuxContainerConfig{
		SecurityContext: sc,
		Resources:       linuxContainerResources(pod, ctr, kc.MemoryCapacity),
	}, nil
}

// containerSecurityContext emulates kuberuntime security_context.go
// determineEffectiveSecurityContext: the effective context (container values,
// else pod values) converted by convertToRuntimeSecurityContext, then seccomp,
// AppArmor, the image user when no runAsUser is set, the pod's namespaces,
// supplemental groups (fsGroup first), no_new_privs and the /proc masks.
func containerSecurityContext(pod *corev1.Pod, ctr *corev1.Container, uid *int64, username string, kc KubeletConfig) (*runtimeapi.LinuxContainerSecurityContext, error) {
	eff := EffectiveSecurityContext(pod, ctr)
	sc := &runtimeapi.LinuxContainerSecurityContext{}
	if eff != nil {
		sc = convertToRuntimeSecurityContext(eff)
	} else {
		eff = &corev1.SecurityContext{}
	}

	var err error
	var podSC *corev1.PodSecurityContext
	if pod.Spec.SecurityContext != nil {
		podSC = pod.Spec.SecurityContext
	}
	if sc.Seccomp, err = seccompProfile(podSC, ctr.SecurityContext, kc.SeccompDefault); err != nil {
		return nil, err
	}
	if sc.Apparmor, sc.ApparmorProfile, err = appArmorProfile(pod, ctr); err != nil {
		return nil, err
	}

	if sc.RunAsUser == nil {
		if uid != nil {
			sc.RunAsUser = &runtimeapi.Int64Value{Value: *uid}
		}
		sc.RunAsUsername = username
	}

	if sc.NamespaceOptions, err = NamespacesForPod(pod, kc); err != nil {
		return nil, err
	}
	if podSC != nil {
		sc.SupplementalGroups = podSupplementalGroups(podSC)
		if podSC.SupplementalGroupsPolicy != nil {
			if sc.SupplementalGroupsPolicy, err = supplementalGroupsPolicy(*podSC.SupplementalGroupsPolicy); err != nil {
				return nil, err
			}
		}
	}

	// securitycontext.AddNoNewPrivileges: only an explicit false sets it.
	sc.NoNewPrivs = eff.AllowPrivilegeEscalation != nil && !*eff.AllowPrivilegeEscalation
	sc.MaskedPaths, sc.ReadonlyPaths = procMountPaths(eff.ProcMount)
	return sc, nil
}

// EffectiveSecurityContext emulates pkg/securitycontext
// DetermineEffectiveSecurityContext: the pod's SELinux options, user, group,
// non-root flag, seccomp and AppArmor profiles, each overridden by the
// container's, plus the container-only fields. Nil when neither has one.
func EffectiveSecurityContext(pod *corev1.Pod, ctr *corev1.Container) *corev1.SecurityContext {
	var eff *corev1.SecurityContext
	if psc := pod.Spec.SecurityContext; psc != nil {
		eff = &corev1.SecurityContext{
			SELinuxOptions:  psc.SELinuxOptions,
			WindowsOptions:  psc.WindowsOptions,
			RunAsUser:       psc.RunAsUser,
			RunAsGroup:      psc.RunAsGroup,
			RunAsNonRoot:    psc.RunAsNonRoot,
			SeccompProfile:  psc.SeccompProfile,
			AppArmorProfile: psc.AppArmorProfile,
		}
		eff = eff.DeepCopy()
	}
	csc := ctr.SecurityContext
	if csc == nil {
		return eff
	}
	if eff == nil {
		return csc.DeepCopy()
	}
	csc = csc.DeepCopy()
	if csc.SELinuxOptions != nil {
		eff.SELinuxOptions = csc.SELinuxOptions
	}
	if csc.WindowsOptions != nil {
		eff.WindowsOptions = csc.WindowsOptions
	}
	if csc.Capabilities != nil {
		eff.Capabilities = csc.Capabilities
	}
	if csc.Privileged != nil {
		eff.Privileged = csc.Privileged
	}
	if csc.RunAsUser != nil {
		eff.RunAsUser = csc.RunAsUser
	}
	if csc.RunAsGroup != nil {
		eff.RunAsGroup = csc.RunAsGroup
	}
	if csc.RunAsNonRoot != nil {
		eff.RunAsNonRoot = csc.RunAsNonRoot
	}
	if csc.ReadOnlyRootFilesystem != nil {
		eff.ReadOnlyRootFilesystem = csc.ReadOnlyRootFilesystem
	}
	if csc.AllowPrivilegeEscalation != nil {
		eff.AllowPrivilegeEscalation = csc.AllowPrivilegeEscalation
	}
	if csc.ProcMount != nil {
		eff.ProcMount = csc.ProcMount
	}
	if csc.SeccompProfile != nil {
		eff.SeccompProfile = csc.SeccompProfile
	}
	if csc.AppArmorProfile != nil {
		eff.AppArmorProfile = csc.AppArmorProfile
	}
	return eff
}

// convertToRuntimeSecurityContext emulates the kuberuntime function of the
// same name (with convertToRuntimeCapabilities and
// convertToRuntimeSELinuxOption).
func convertToRuntimeSecurityContext(s *corev1.SecurityContext) *runtimeapi.LinuxContainerSecurityContext {
	sc := &runtimeapi.LinuxContainerSecurityContext{}
	if c := s.Capabilities; c != nil {
		sc.Capabilities = &runtimeapi.Capability{
			AddCapabilities:  make([]string, len(c.Add)),
			DropCapabilities: make([]string, len(c.Drop)),
		}
		for i, v := range c.Add {
			sc.Capabilities.AddCapabilities[i] = string(v)
		}
		for i, v := range c.Drop {
			sc.Capabilities.DropCapabilities[i] = string(v)
		}
	}
	if o := s.SELinuxOptions; o != nil {
		sc.SelinuxOptions = &runtimeapi.SELinuxOption{User: o.User, Role: o.Role, Type: o.Type, Level: o.Level}
	}
	if s.RunAsUser != nil {
		sc.RunAsUser = &runtimeapi.Int64Value{Value: *s.RunAsUser}
	}
	if s.RunAsGroup != nil {
		sc.RunAsGroup = &runtimeapi.Int64Value{Value: *s.RunAsGroup}
	}
	if s.Privileged != nil {
		sc.Privileged = *s.Privileged
	}
	if s.ReadOnlyRootFilesystem != nil {
		sc.ReadonlyRootfs = *s.ReadOnlyRootFilesystem
	}
	return sc
}

// verifyRunAsNonRoot emulates the kuberuntime function of the same name
// (security_context_others.go), including its messages.
func verifyRunAsNonRoot(pod *corev1.Pod, ctr *corev1.Container, uid *int64, username string) error {
	eff := EffectiveSecurityContext(pod, ctr)
	if eff == nil || eff.RunAsNonRoot == nil || !*eff.RunAsNonRoot {
		return nil
	}
	if eff.RunAsUser != nil {
		if *eff.RunAsUser == 0 {
			return fmt.Errorf("container's runAsUser breaks non-root policy (pod: %q, container: %s)", formatPod(pod), ctr.Name)
		}
		return nil
	}
	switch {
	case uid != nil && *uid == 0:
		return fmt.Errorf("container has runAsNonRoot and image will run as root (pod: %q, container: %s)", formatPod(pod), ctr.Name)
	case uid == nil && username != "":
		return fmt.Errorf("container has runAsNonRoot and image has non-numeric user (%s), cannot verify user is non-root (pod: %q, container: %s)", username, formatPod(pod), ctr.Name)
	}
	return nil
}

// kubeletSeccompProfileRoot is the kubelet's default --seccomp-profile-root
// (<root-dir>/seccomp), where Localhost profiles live.
const kubeletSeccompProfileRoot = "/var/lib/kubelet/seccomp"

// seccompProfile emulates kuberuntime_security_profile.go getSeccompProfile:
// the container's field, else the pod's, else RuntimeDefault when
// seccompDefault is on, else Unconfined.
func seccompProfile(podSC *corev1.PodSecurityContext, ctrSC *corev1.SecurityContext, seccompDefault bool) (*runtimeapi.SecurityProfile, error) {
	var p *corev1.SeccompProfile
	switch {
	case ctrSC != nil && ctrSC.SeccompProfile != nil:
		p = ctrSC.SeccompProfile
	case podSC != nil && podSC.SeccompProfile != nil:
		p = podSC.SeccompProfile
	}
	if p == nil {
		if seccompDefault {
			return &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}, nil
		}
		return &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined}, nil
	}
	switch p.Type {
	case corev1.SeccompProfileTypeRuntimeDefault:
		return &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}, nil
	case corev1.SeccompProfileTypeLocalhost:
		if p.LocalhostProfile == nil {
			return nil, fmt.Errorf("localhostProfile must be set if seccompProfile type is Localhost")
		}
		return &runtimeapi.SecurityProfile{
			ProfileType:  runtimeapi.SecurityProfile_Localhost,
			LocalhostRef: filepath.Join(kubeletSeccompProfileRoot, *p.LocalhostProfile),
		}, nil
	default:
		return &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined}, nil
	}
}

// appArmorProfile emulates kuberuntime_security_profile.go getAppArmorProfile
// for the profile fields (container, else pod): nothing set means nil, so the
// runtime applies its default.
func appArmorProfile(pod *corev1.Pod, ctr *corev1.Container) (*runtimeapi.SecurityProfile, string, error) {
	var p *corev1.AppArmorProfile
	switch {
	case ctr.SecurityContext != nil && ctr.SecurityContext.AppArmorProfile != nil:
		p = ctr.SecurityContext.AppArmorProfile
	case pod.Spec.SecurityContext != nil && pod.Spec.SecurityContext.AppArmorProfile != nil:
		p = pod.Spec.SecurityContext.AppArmorProfile
	default:
		return nil, "", nil
	}
	switch p.Type {
	case corev1.AppArmorProfileTypeRuntimeDefault:
		return &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}, "runtime/default", nil
	case corev1.AppArmorProfileTypeUnconfined:
		return &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined}, "unconfined", nil
	case corev1.AppArmorProfileTypeLocalhost:
		if p.LocalhostProfile == nil {
			return nil, "", fmt.Errorf("missing localhost apparmor profile name")
		}
		return &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: *p.LocalhostProfile},
			"localhost/" + *p.LocalhostProfile, nil
	}
	return nil, "", fmt.Errorf("unknown apparmor profile type: %q", p.Type)
}

// procMountPaths emulates pkg/securitycontext ConvertToRuntimeMaskedPaths and
// ConvertToRuntimeReadonlyPaths: Unmasked gives empty lists, anything else the
// defaults (the per-CPU thermal_throttle entries recent kubelets add by
// scanning the host are left out).
func procMountPaths(pm *corev1.ProcMountType) (masked, readonly []string) {
	if pm != nil && *pm == corev1.UnmaskedProcMount {
		return []string{}, []string{}
	}
	masked = []string{
		"/proc/asound",
		"/proc/acpi",
		"/proc/interrupts",
		"/proc/kcore",
		"/proc/keys",
		"/proc/latency_stats",
		"/proc/timer_list",
		"/proc/timer_stats",
		"/proc/sched_debug",
		"/proc/scsi",
		"/sys/firmware",
		"/sys/devices/virtual/powercap",
	}
	readonly = []string{
		"/proc/bus",
		"/proc/fs",
		"/proc/irq",
		"/proc/sys",
		"/proc/sysrq-trigger",
	}
	return masked, readonly
}
