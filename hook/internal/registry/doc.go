// Package registry records the user namespaces of running containers so
// that check 7 (no host range shared with another pod) costs the same at 1
// and at 100 running pods.
//
// Design. One small text file, <dir>/registry (a tmpfs under /run: empty at
// boot, as the namespaces are), one line per container that passed the
// hook: its pod, its pid with that process's start time, the device and
// inode of its user namespace, the namespace's pin path, and its uid/gid
// maps. A sibling lock file serialises hooks with flock(2); the registry
// itself is replaced by rename(2), so a crash mid-write leaves the old file.
//
// A hook reads the file (one read of a few KiB at 100 pods), compares its
// own host ranges against every entry in memory (sorted sweeps, no
// syscalls), and only then asks the kernel whether the entries that do
// overlap are still alive. Stale entries are therefore harmless until they
// collide, and they are removed the moment they do. To keep the file from
// growing with dead entries that never collide, each hook also checks the
// liveness of the few entries at the head of the file and moves the
// survivors to the tail, so every entry is looked at once every
// len/SweepPerRun container starts. The syscall count per hook is thus
// bounded by the number of colliding entries plus SweepPerRun, not by the
// number of pods.
//
// Liveness. An entry is alive while its user namespace is: the pid still
// runs the process with the recorded start time and that process is in the
// recorded namespace (dev, inode of /proc/PID/ns/user), or the pin file
// CRI-O keeps for the pod (the spec's namespace path) is still that
// namespace. A reused pid fails the start-time test; a reused namespace
// inode number fails the pid test unless the pin survives, which it only
// does while the pod exists. The maps of a user namespace cannot change once
// written, so a live entry's maps are still true.
package registry
