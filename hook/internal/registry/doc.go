// Package registry records the user namespaces of running pods, so that
// check 7 (no host range shared with another pod) and check 9 (a pod's
// containers share its user namespace) cost the same at 1 and at 250
// running pods, with pods coming and going.
//
// Layout, in registry_dir (a tmpfs under /run: empty at boot, as the
// namespaces it describes are; 0700 and root's):
//
//	lock            flock(2)ed by every hook that writes; readers need no lock
//	index           binary: every namespace's coarse host spans and pod key
//	ns/DEV-INO      text: one registered user namespace, its pod and maps
//
// An entry is keyed by the user namespace itself (the device and inode of
// its nsfs file): containers of one pod join one user namespace, so the
// pod's first container registers it and the others find it by key. No
// annotation decides that two containers share a namespace.
//
// The index holds, per namespace, at most four host spans per side (the
// namespace's host ranges merged, the narrowest gaps closed), each record
// sorted by first ID with the running maximum of last IDs, and the pods'
// keys by hash. A lookup binary-searches it in place: the spans that can
// overlap a range, or the namespace of a pod, without decoding the other
// records; only the entries of candidate namespaces are read and compared
// exactly, and only those that do overlap are checked for liveness. A new
// namespace rewrites the index (one copy of a few tens of KiB at 250 pods)
// and writes its own entry; the pod's other containers write nothing.
// Files are replaced by rename(2), so a reader without the lock, or after a
// crash, sees a whole file.
//
// Pruning. An entry is alive while its user namespace is: the pin CRI-O
// keeps for the pod (the path the spec joins) is still that namespace, or
// the registering process still runs, with its start time, in it. Dead
// entries go when they collide with a new container or with the pod's
// next one, and every writing hook also checks SweepPerRun entries picked
// at random: every entry is looked at every len/SweepPerRun container
// starts on average, whichever containers those are. A namespace's inode number can be reused once the
// namespace is gone; an entry whose key a live namespace now holds but whose
// pod or maps differ is therefore stale, and is replaced.
//
// An index that is missing, damaged or of another version is rebuilt from
// the entries; a damaged entry makes the hook fail closed, naming the file.
// A registry of the previous format (one "registry" file) is taken over
// entry by entry.
package registry
