package podrun

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Constants of pkg/kubelet/cm (helpers_linux.go) and pkg/kubelet/qos
// (policy.go).
const (
	minShares             = 2
	sharesPerCPU          = 1024
	milliCPUToCPU         = 1000
	quotaPeriod           = 100000
	minQuotaPeriod        = 1000
	guaranteedOOMScoreAdj = -997
	besteffortOOMScoreAdj = 1000
)

// linuxContainerResources emulates generateLinuxContainerResources with
// calculateLinuxResources (CPU shares, quota and memory limit) and
// qos.GetContainerOOMScoreAdjust, except that a negative oom_score_adj is sent
// as 0: on this bench root lacks CAP_SYS_RESOURCE and runc fails on negative
// values (pitfall P1), so Guaranteed pods would never start.
func linuxContainerResources(pod *corev1.Pod, ctr *corev1.Container, memoryCapacity int64) *runtimeapi.LinuxContainerResources {
	cpuRequest := ctr.Resources.Requests.Cpu()
	cpuLimit, hasCPULimit := ctr.Resources.Limits[corev1.ResourceCPU]
	r := &runtimeapi.LinuxContainerResources{}
	if cpuRequest.IsZero() && hasCPULimit && !cpuLimit.IsZero() {
		r.CpuShares = milliCPUToShares(cpuLimit.MilliValue())
	} else {
		r.CpuShares = milliCPUToShares(cpuRequest.MilliValue())
	}
	if hasCPULimit {
		r.CpuPeriod = quotaPeriod
		r.CpuQuota = milliCPUToQuota(cpuLimit.MilliValue(), quotaPeriod)
	}
	if mem, ok := ctr.Resources.Limits[corev1.ResourceMemory]; ok {
		r.MemoryLimitInBytes = mem.Value()
	}
	r.OomScoreAdj = max(0, int64(containerOOMScoreAdjust(pod, ctr, memoryCapacity)))
	return r
}

func milliCPUToShares(milli int64) int64 {
	if milli == 0 {
		return minShares
	}
	return max(minShares, milli*sharesPerCPU/milliCPUToCPU)
}

func milliCPUToQuota(milli, period int64) int64 {
	if milli == 0 {
		return 0
	}
	return max(minQuotaPeriod, milli*period/milliCPUToCPU)
}

// containerOOMScoreAdjust emulates qos.GetContainerOOMScoreAdjust.
func containerOOMScoreAdjust(pod *corev1.Pod, ctr *corev1.Container, memoryCapacity int64) int {
	if pod.Spec.PriorityClassName == "system-node-critical" {
		return guaranteedOOMScoreAdj
	}
	switch PodQOS(pod) {
	case corev1.PodQOSGuaranteed:
		return guaranteedOOMScoreAdj
	case corev1.PodQOSBestEffort:
		return besteffortOOMScoreAdj
	}
	if memoryCapacity <= 0 {
		return besteffortOOMScoreAdj - 1
	}
	adj := 1000 - (1000*ctr.Resources.Requests.Memory().Value())/memoryCapacity
	if adj < 1000+guaranteedOOMScoreAdj {
		return 1000 + guaranteedOOMScoreAdj
	}
	if adj == besteffortOOMScoreAdj {
		return int(adj - 1)
	}
	return int(adj)
}

// PodQOS emulates pkg/apis/core/v1/helper/qos GetPodQOS over CPU and memory.
func PodQOS(pod *corev1.Pod) corev1.PodQOSClass {
	requests := corev1.ResourceList{}
	limits := corev1.ResourceList{}
	guaranteed := true
	add := func(list corev1.ResourceList, name corev1.ResourceName, q resource.Quantity) {
		sum := list[name]
		sum.Add(q)
		list[name] = sum
	}
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range list {
			for name, q := range c.Resources.Requests {
				if (name == corev1.ResourceCPU || name == corev1.ResourceMemory) && q.Sign() > 0 {
					add(requests, name, q)
				}
			}
			found := 0
			for name, q := range c.Resources.Limits {
				if (name == corev1.ResourceCPU || name == corev1.ResourceMemory) && q.Sign() > 0 {
					found++
					add(limits, name, q)
				}
			}
			if found < 2 {
				guaranteed = false
			}
		}
	}
	if len(requests) == 0 && len(limits) == 0 {
		return corev1.PodQOSBestEffort
	}
	if guaranteed {
		for name, req := range requests {
			if lim, ok := limits[name]; !ok || lim.Cmp(req) != 0 {
				guaranteed = false
				break
			}
		}
	}
	if guaranteed && len(requests) == len(limits) {
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}
