// Package vm runs the guest node: CRI-O on an OpenShift-shaped machine
// (Debian 13, kernel 6.12, systemd as PID 1, cgroup v2 only, crun as the
// default runtime, the systemd cgroup manager) inside QEMU, on a host that is
// none of these.
//
// The guest's root file system is built from Debian packages alone
// (mmdebstrap) and cached under _output/vm keyed by everything that goes into
// it (image.go). QEMU runs it under TCG (KVM hangs on this machine kind) with
// no routable network: user networking with restrict=on carries only two
// forwards bound to the host's loopback, one to the guest's CRI socket and
// one to the guest agent (agent/). The host's CRI-O build, the hook and the
// test images reach the guest through 9p shares mounted at the same paths
// they have on the host, so every path a test writes into a drop-in or a
// hooks.d file means the same file on both sides.
//
// On the host, Guest exposes the guest's CRI socket as a Unix socket
// (STATE/crio.sock) and the agent as another (STATE/agent.sock). podrun and
// the e2e suite drive the guest through the first like any node and read the
// guest's /proc through the second (Agent.ReadProc).
package vm
