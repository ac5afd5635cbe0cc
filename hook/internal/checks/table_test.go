package checks

import (
	"reflect"
	"strconv"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crio-userns/crio-userns/internal/idmap"
	"github.com/crio-userns/crio-userns/internal/policy"
)

// The table is the one list: IDs in order from 1, names unique, and every
// name, All and the bounds of String come from it.
func TestTable(t *testing.T) {
	seen := map[string]bool{}
	for i, c := range Table {
		if c.ID != ID(i+1) {
			t.Errorf("row %d has ID %d", i, c.ID)
		}
		if c.Name == "" || seen[c.Name] || c.Run == nil {
			t.Errorf("row %d: name %q (dup %v), run %v", i, c.Name, seen[c.Name], c.Run != nil)
		}
		seen[c.Name] = true
		if c.ID.String() != c.Name {
			t.Errorf("%d.String() = %q, want %q", c.ID, c.ID.String(), c.Name)
		}
	}
	if len(All) != len(Table) || All[len(All)-1] != Table[len(Table)-1].ID {
		t.Errorf("All = %v", All)
	}
	if got := ID(len(Table) + 1).String(); got != "check-"+itoa(len(Table)+1) {
		t.Errorf("out of range: %q", got)
	}
	if got := ID(0).String(); got != "check-0" {
		t.Errorf("ID 0: %q", got)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// Evaluate runs the registry checks last, consults the registry once with
// the findings so far, and returns outcomes in table order.
func TestEvaluate(t *testing.T) {
	res, err := policy.Policy{AllowedUIDs: []string{"200000-299999"}, AllowedGIDs: []string{"200000-299999"}, KubeletSubIDOwner: "none"}.Defaults().Resolve()
	if err != nil {
		t.Fatal(err)
	}
	in := &Input{
		Spec:   &rspec.Spec{Process: &rspec.Process{}, Linux: &rspec.Linux{}},
		Policy: res, Userns: true,
		UIDs: mp(0, 0, 65536), GIDs: mp(0, 200000, 65536),
		Image: func() Image { return Image{} },
	}
	var steps []string
	consults := 0
	var sawSofar []Finding
	outs := Evaluate(in, func(s string) { steps = append(steps, s) }, func(sofar []Finding) *RegistryView {
		consults++
		sawSofar = sofar
		return &RegistryView{Entries: 3, Dir: "/run/x", Overlaps: []Overlap{{Map: "uid_map", Mine: "0 0 65536", Theirs: "0 0 1", Shared: idmap.Range{}, OtherPod: "a/b", OtherCtr: "c"}}}
	})
	if consults != 1 {
		t.Fatalf("consulted %d times", consults)
	}
	// host-root and allowed-ranges found errors before the registry was
	// consulted; the registry check saw them.
	if !HasErrors(sawSofar) {
		t.Errorf("consult saw no errors: %+v", sawSofar)
	}
	if len(outs) != len(Table) {
		t.Fatalf("%d outcomes", len(outs))
	}
	for i, o := range outs {
		if o.Check.ID != ID(i+1) {
			t.Errorf("outcome %d is check %d", i, o.Check.ID)
		}
	}
	if outs[LiveMaps-1].Skipped == "" {
		t.Error("live-maps ran without a process")
	}
	if len(outs[CrossPod-1].Findings) != 1 || outs[CrossPod-1].Note != "3 running containers registered in /run/x" {
		t.Errorf("cross-pod: %+v", outs[CrossPod-1])
	}
	if n := len(steps); steps[n-2] != "cross-pod-overlap" || steps[n-1] != "pod-user-namespace" {
		t.Errorf("steps %v: the registry checks are not last", steps)
	}
	// A container in the host's user namespace: only the checks for it run.
	in.Userns, in.Registry = false, nil
	steps = nil
	outs = Evaluate(in, func(s string) { steps = append(steps, s) }, func([]Finding) *RegistryView { return &RegistryView{} })
	if !reflect.DeepEqual(steps, []string{"writable-cgroup", "pod-user-namespace"}) {
		t.Errorf("host user namespace: steps %v", steps)
	}
	if outs[HostRoot-1].Skipped != "no user namespace" {
		t.Errorf("host-root ran: %+v", outs[HostRoot-1])
	}
	in.Userns = true
	// An unreadable registry skips the checks that read it.
	in.Registry = nil
	outs = Evaluate(in, func(string) {}, func([]Finding) *RegistryView { return nil })
	if outs[CrossPod-1].Skipped != "the registry could not be read" {
		t.Errorf("cross-pod without a registry: %+v", outs[CrossPod-1])
	}
}
