package podrun

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// KubeletConfig is the node-side knowledge and configuration that shapes the
// CRI requests, i.e. what the kubelet's kubeGenericRuntimeManager and its
// runtime helper would supply.
type KubeletConfig struct {
	// LogDirectory is the pod's log directory
	// (kubelet: /var/log/pods/<namespace>_<name>_<uid>).
	LogDirectory string
	// UserNamespacesSupport is the kubelet feature gate: on, every pod
	// without hostUsers: false gets UsernsOptions{Mode: NODE}.
	UserNamespacesSupport bool
	// Userns is the host range hostUsers: false pods get their block from.
	// Zero means DefaultUsernsRange.
	Userns UsernsRange
	// CgroupParent is the pod cgroup. The kubelet passes its QoS hierarchy
	// (kubepods/besteffort/pod<uid>); the bench has none, so empty lets
	// CRI-O choose.
	CgroupParent string
	// MemoryCapacity is the node's memory in bytes, for Burstable pods'
	// oom_score_adj. Zero treats it as unknown (999, the mildest Burstable).
	MemoryCapacity int64
	// SeccompDefault is the kubelet's seccompDefault setting: RuntimeDefault
	// instead of Unconfined for containers that ask for nothing.
	SeccompDefault bool
}

func (kc KubeletConfig) usernsRange() UsernsRange {
	if kc.Userns == (UsernsRange{}) {
		return DefaultUsernsRange
	}
	return kc.Userns
}

// NamespacesForPod emulates pkg/kubelet/kuberuntime/util NamespacesForPod:
// network and IPC per pod unless hostNetwork/hostIPC, PID per container unless
// shareProcessNamespace (POD) or hostPID (NODE), plus the user namespace.
func NamespacesForPod(pod *corev1.Pod, kc KubeletConfig) (*runtimeapi.NamespaceOption, error) {
	userns, err := userNamespaceFor(pod, kc.UserNamespacesSupport, kc.usernsRange())
	if err != nil {
		return nil, fmt.Errorf("user namespace for pod %s: %w", formatPod(pod), err)
	}
	ns := &runtimeapi.NamespaceOption{
		Network:       runtimeapi.NamespaceMode_POD,
		Pid:           runtimeapi.NamespaceMode_CONTAINER,
		Ipc:           runtimeapi.NamespaceMode_POD,
		UsernsOptions: userns,
	}
	if pod.Spec.HostNetwork {
		ns.Network = runtimeapi.NamespaceMode_NODE
	}
	if pod.Spec.HostIPC {
		ns.Ipc = runtimeapi.NamespaceMode_NODE
	}
	switch {
	case pod.Spec.HostPID:
		ns.Pid = runtimeapi.NamespaceMode_NODE
	case pod.Spec.ShareProcessNamespace != nil && *pod.Spec.ShareProcessNamespace:
		// Needs an infra (pause) container, whose oom_score_adj -998 fails on
		// this bench (pitfall P1); sent anyway, as the kubelet would.
		ns.Pid = runtimeapi.NamespaceMode_POD
	}
	return ns, nil
}

// SandboxConfig emulates kuberuntime_sandbox.go generatePodSandboxConfig for
// attempt 0. Left out, with reasons: DNS config (the bench has no cluster DNS;
// CRI-O then leaves the image's resolv.conf), port mappings' CNI effects (sent,
// but the bench's CNI is loopback-only), and pod-level resources/overhead
// (applySandboxResources; no pod cgroup hierarchy here).
func SandboxConfig(pod *corev1.Pod, kc KubeletConfig) (*runtimeapi.PodSandboxConfig, error) {
	cfg := &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{
			Name:      pod.Name,
			Namespace: pod.Namespace,
			Uid:       string(pod.UID),
			Attempt:   0,
		},
		Labels:       newPodLabels(pod),
		Annotations:  newPodAnnotations(pod),
		LogDirectory: kc.LogDirectory,
	}
	if !pod.Spec.HostNetwork {
		hostname, err := podHostname(pod)
		if err != nil {
			return nil, err
		}
		cfg.Hostname = hostname
	}
	for _, c := range pod.Spec.Containers {
		cfg.PortMappings = append(cfg.PortMappings, portMappings(&c)...)
	}
	linux, err := sandboxLinuxConfig(pod, kc)
	if err != nil {
		return nil, err
	}
	cfg.Linux = linux
	return cfg, nil
}

// sandboxLinuxConfig emulates kuberuntime_sandbox.go
// generatePodSandboxLinuxConfig. Only the pod security context reaches the
// sandbox; the containers' contexts do not, which is why CRI-O's map-to-root
// sees no runAsUser when only containers carry one.
func sandboxLinuxConfig(pod *corev1.Pod, kc KubeletConfig) (*runtimeapi.LinuxPodSandboxConfig, error) {
	lc := &runtimeapi.LinuxPodSandboxConfig{
		CgroupParent: kc.CgroupParent,
		SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
			Privileged: hasPrivilegedContainer(pod),
			// "Forcing sandbox to run as runtime/default allow users to use
			// least privileged seccomp profiles at pod level" (kubernetes#84623).
			Seccomp: &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault},
		},
		Sysctls: map[string]string{},
	}
	sc := pod.Spec.SecurityContext
	if sc == nil {
		return lc, nil
	}
	for _, s := range sc.Sysctls {
		lc.Sysctls[s.Name] = s.Value
	}
	if sc.RunAsUser != nil {
		lc.SecurityContext.RunAsUser = &runtimeapi.Int64Value{Value: *sc.RunAsUser}
	}
	if sc.RunAsGroup != nil {
		lc.SecurityContext.RunAsGroup = &runtimeapi.Int64Value{Value: *sc.RunAsGroup}
	}
	ns, err := NamespacesForPod(pod, kc)
	if err != nil {
		return nil, err
	}
	lc.SecurityContext.NamespaceOptions = ns
	lc.SecurityContext.SupplementalGroups = podSupplementalGroups(sc)
	if sc.SupplementalGroupsPolicy != nil {
		p, err := supplementalGroupsPolicy(*sc.SupplementalGroupsPolicy)
		if err != nil {
			return nil, err
		}
		lc.SecurityContext.SupplementalGroupsPolicy = p
	}
	if o := sc.SELinuxOptions; o != nil {
		lc.SecurityContext.SelinuxOptions = &runtimeapi.SELinuxOption{User: o.User, Role: o.Role, Type: o.Type, Level: o.Level}
	}
	return lc, nil
}

// podSupplementalGroups is the fsGroup followed by the pod's supplemental
// groups, the order both generatePodSandboxLinuxConfig and
// determineEffectiveSecurityContext use.
func podSupplementalGroups(sc *corev1.PodSecurityContext) []int64 {
	var groups []int64
	if sc.FSGroup != nil {
		groups = append(groups, *sc.FSGroup)
	}
	return append(groups, sc.SupplementalGroups...)
}

func supplementalGroupsPolicy(p corev1.SupplementalGroupsPolicy) (runtimeapi.SupplementalGroupsPolicy, error) {
	v, ok := runtimeapi.SupplementalGroupsPolicy_value[string(p)]
	if !ok {
		return 0, fmt.Errorf("unsupported supplementalGroupsPolicy: %s", p)
	}
	return runtimeapi.SupplementalGroupsPolicy(v), nil
}

// podHostname emulates the kubelet's GeneratePodHostNameAndDomain and
// util.GetNodenameForKernel with the default cluster domain.
func podHostname(pod *corev1.Pod) (string, error) {
	hostname := pod.Name
	if pod.Spec.Hostname != "" {
		if msgs := validation.IsDNS1123Label(pod.Spec.Hostname); len(msgs) > 0 {
			return "", fmt.Errorf("pod Hostname %q is not a valid DNS label: %s", pod.Spec.Hostname, strings.Join(msgs, ";"))
		}
		hostname = pod.Spec.Hostname
	}
	// truncatePodHostnameIfNeeded: at most 63 characters, not ending in - or .
	if len(hostname) > 63 {
		hostname = strings.TrimRight(hostname[:63], "-.")
	}
	if pod.Spec.Subdomain != "" && pod.Spec.SetHostnameAsFQDN != nil && *pod.Spec.SetHostnameAsFQDN {
		fqdn := fmt.Sprintf("%s.%s.%s.svc.cluster.local", hostname, pod.Spec.Subdomain, pod.Namespace)
		if len(fqdn) > 64 {
			return "", fmt.Errorf("failed to construct FQDN from pod hostname and cluster domain, FQDN %s is too long (64 characters is the max, %d characters requested)", fqdn, len(fqdn))
		}
		hostname = fqdn
	}
	return hostname, nil
}

// portMappings emulates kubecontainer.MakePortMappings plus the conversion in
// generatePodSandboxConfig.
func portMappings(c *corev1.Container) []*runtimeapi.PortMapping {
	var out []*runtimeapi.PortMapping
	for _, p := range c.Ports {
		proto := runtimeapi.Protocol_TCP
		switch p.Protocol {
		case corev1.ProtocolUDP:
			proto = runtimeapi.Protocol_UDP
		case corev1.ProtocolSCTP:
			proto = runtimeapi.Protocol_SCTP
		}
		out = append(out, &runtimeapi.PortMapping{
			Protocol:      proto,
			ContainerPort: p.ContainerPort,
			HostPort:      p.HostPort,
			HostIp:        p.HostIP,
		})
	}
	return out
}

// hasPrivilegedContainer emulates kubecontainer.HasPrivilegedContainer.
func hasPrivilegedContainer(pod *corev1.Pod) bool {
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range list {
			if c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged {
				return true
			}
		}
	}
	return false
}

// formatPod emulates pkg/kubelet/util/format.Pod: name_namespace(uid).
func formatPod(pod *corev1.Pod) string {
	return fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID)
}
