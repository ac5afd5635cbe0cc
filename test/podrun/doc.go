// Package podrun is the project's kubelet stand-in: it runs one real Pod
// manifest against a CRI-O node over CRI, the way OpenShift would get it there.
//
// A run has three stages, each in its own files so that tests can drive them
// separately:
//
//  1. Admission (scc*.go): OpenShift's SecurityContextConstraints admission is
//     emulated for the restricted, restricted-v2 and anyuid SCCs, mutating the
//     pod and rejecting it with OpenShift's own error wording.
//  2. Translation (kubelet_*.go): the admitted pod becomes the
//     PodSandboxConfig and ContainerConfigs the kubelet's kuberuntime package
//     would send.
//  3. Execution (run.go, watch.go, cri_client.go, proc.go, crilog.go): the
//     sandbox and containers are created over the CRI socket, init containers
//     run to completion, app containers are watched while the host's
//     /proc/<pid> is sampled (ID maps, capabilities, the process tree), and
//     everything is torn down again unless asked to keep it.
//
// The outcome is a Result: admission rejections and CRI failures are data in
// it, with CRI error text kept verbatim; Run returns an error only when the
// harness itself cannot do its job (bad manifest, no socket).
package podrun
