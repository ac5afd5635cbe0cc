package checks

import (
	"fmt"
	"slices"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crio-userns/crio-userns/hook/internal/nsfs"
	"github.com/crio-userns/crio-userns/internal/policy"
)

// ID numbers a check as in crio-userns-hook(8) and in the hook's log
// records (check_id): a number keeps its meaning for good.
type ID int

const (
	Structure ID = iota + 1
	HostRoot
	AllowedRanges
	ProcessUser
	LiveMaps
	ImageAccounts
	CrossPod
	WritableCgroup
	PodUserns
)

// Check is one row of Table.
type Check struct {
	ID   ID
	Name string
	// Run judges the container. It may also say why it did not run
	// (Result.Skipped) or add a remark to an ok (Result.Note).
	Run func(*Input) Result
	// Registry says Run reads Input.Registry: it runs after the registry
	// was consulted, when every check without it has run.
	Registry bool
	// HostUserns says the check applies to containers in the host's user
	// namespace too; the others judge user namespaces only.
	HostUserns bool
}

// Result is what one check says about one container.
type Result struct {
	Findings []Finding
	// Skipped, when set, says why the check did not run.
	Skipped string
	// Note qualifies an ok ("12 running containers registered in ...").
	Note string
}

// Table is every check, in ID order. A new check is one file with its Run
// and one row here; the names, All and the valid IDs derive from it.
var Table = []Check{
	{ID: Structure, Name: "structure", Run: runStructure},
	{ID: HostRoot, Name: "host-root", Run: runHostRoot},
	{ID: AllowedRanges, Name: "allowed-ranges", Run: runAllowedRanges},
	{ID: ProcessUser, Name: "process-user", Run: runProcessUser},
	{ID: LiveMaps, Name: "live-maps", Run: runLiveMaps},
	{ID: ImageAccounts, Name: "image-accounts", Run: runImageAccounts},
	{ID: CrossPod, Name: "cross-pod-overlap", Run: runCrossPod, Registry: true},
	{ID: WritableCgroup, Name: "writable-cgroup", Run: runWritableCgroup, HostUserns: true},
	{ID: PodUserns, Name: "pod-user-namespace", Run: runPodUserns, Registry: true, HostUserns: true},
}

// All lists the checks' IDs in order.
var All = func() []ID {
	ids := make([]ID, len(Table))
	for i, c := range Table {
		ids[i] = c.ID
	}
	return ids
}()

// Lookup returns the row of id.
func Lookup(id ID) (*Check, bool) {
	if id < 1 || int(id) > len(Table) {
		return nil, false
	}
	return &Table[id-1], true
}

func (id ID) String() string {
	if c, ok := Lookup(id); ok {
		return c.Name
	}
	return fmt.Sprintf("check-%d", int(id))
}

// Input is everything the checks read about one container, gathered by the
// caller.
type Input struct {
	Spec *rspec.Spec
	// Policy is nil for a container in the host's user namespace whose
	// policy could not be read: the checks that judge those containers do
	// not need it.
	Policy *policy.Resolved
	// Userns says the container runs in a user namespace of its own
	// (config.json asks for one, or its process is in one).
	Userns bool
	// UsernsID is the container's user namespace, HostUsernsID the hook's
	// (the host's); UsernsID is zero when not known (offline, a namespace
	// still to be created).
	UsernsID, HostUsernsID nsfs.ID
	// PodNamespaces are the pod's namespaces the container joins, with
	// their owners.
	PodNamespaces []PodNamespace
	// Joined says the container joins an existing user namespace by path.
	Joined bool
	// UIDs and GIDs are the mappings in force: config.json's, or the live
	// ones when a joined namespace lists none in config.json.
	UIDs, GIDs []rspec.LinuxIDMapping
	// Origin says who chose the mappings (check 3).
	Origin Origin
	// Live is the container process and its kernel maps; nil offline.
	Live *Live
	// Image reads the rootfs's accounts; called only when a check needs
	// them.
	Image func() Image
	// Registry is what the registry says about the container; set by
	// Evaluate's consult before the checks that read it run.
	Registry *RegistryView
}

// Live is the container's process as the kernel has it.
type Live struct {
	PID        int
	UIDs, GIDs []rspec.LinuxIDMapping
}

// RegistryView is what the registry of running user namespaces says about
// a container.
type RegistryView struct {
	// Overlaps are the host ranges live containers of other pods hold.
	Overlaps []Overlap
	// PodElsewhere is the live user namespace registered for the
	// container's pod when it is not the container's own; OtherPod the
	// pod that registered the container's own namespace, when another.
	PodElsewhere, OtherPod *RegisteredPod
	// Entries and Dir describe the registry, for validate's "ok" note.
	Entries int
	Dir     string
}

// Outcome is one check's result for one container.
type Outcome struct {
	Check *Check
	Result
}

// Evaluate runs the checks of Table on in, in order, reporting each one's
// name through step before it runs (the deadline's progress). The checks
// that read the registry run last: consult is called once, before the first
// of them, with the findings so far, and returns the view they read, or nil
// when the registry could not be read (they are then skipped, and the caller
// reports why). The outcomes come back in table order.
func Evaluate(in *Input, step func(string), consult func(sofar []Finding) *RegistryView) []Outcome {
	out := make([]Outcome, len(Table))
	var sofar []Finding
	consulted := false
	for _, late := range []bool{false, true} {
		for i := range Table {
			c := &Table[i]
			if c.Registry != late {
				continue
			}
			if !in.Userns && !c.HostUserns {
				out[i] = Outcome{Check: c, Result: Result{Skipped: "no user namespace"}}
				continue
			}
			if late && !consulted {
				in.Registry, consulted = consult(sofar), true
			}
			if late && in.Registry == nil {
				out[i] = Outcome{Check: c, Result: Result{Skipped: "the registry could not be read"}}
				continue
			}
			step(c.Name)
			out[i] = Outcome{Check: c, Result: c.Run(in)}
			sofar = append(sofar, out[i].Findings...)
		}
	}
	return out
}

// Findings flattens outcomes into their findings, in table order.
func Findings(outs []Outcome) []Finding {
	var fs []Finding
	for _, o := range outs {
		fs = append(fs, o.Findings...)
	}
	return fs
}

// HasErrors reports whether any finding refuses the container in enforce
// mode.
func HasErrors(fs []Finding) bool {
	return slices.ContainsFunc(fs, func(f Finding) bool { return f.Severity == Error })
}
