package podrun

import "github.com/crio-userns/crio-userns/test/podrun/proctree"

// Process is one process of a container as the node sees it.
type Process = proctree.Process

// ProcSnapshot is what the node's /proc shows of a container's init process
// and its descendants at one moment.
type ProcSnapshot = proctree.Snapshot

// ProcReader takes snapshots of a node's processes by the PIDs its runtime
// reports: the host's /proc for the node bench, a guest's through its agent.
type ProcReader interface {
	ReadProc(pid int) (*ProcSnapshot, error)
}

// LocalProc reads the /proc mounted at Root on this machine.
type LocalProc struct{ Root string }

// ReadProc implements ProcReader.
func (l LocalProc) ReadProc(pid int) (*ProcSnapshot, error) { return proctree.ReadProc(l.Root, pid) }

// ReadProc takes a snapshot of process pid and its descendants under procRoot.
func ReadProc(procRoot string, pid int) (*ProcSnapshot, error) {
	return proctree.ReadProc(procRoot, pid)
}
