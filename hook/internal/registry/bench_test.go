package registry

import (
	"fmt"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// BenchmarkNewPod is the registry's whole cost for a pod's first container
// (lock, index, candidates, sweep, entry and index writes, unlock) with n
// other live pods registered, with a realistic map and with 340-extent maps
// everywhere. The new pod is removed again, untimed, so that every round
// is a first container. Run with TMPDIR on a tmpfs, as the registry is on
// a node.
func BenchmarkNewPod(b *testing.B) {
	for _, shape := range []string{"realistic", "340-extents"} {
		for _, n := range []int{0, 100, 250, 1000} {
			b.Run(fmt.Sprintf("%s/pods=%d", shape, n), func(b *testing.B) {
				p := proc{b, b.TempDir()}
				r := &Registry{Dir: b.TempDir(), ProcRoot: p.root}
				for i := range n {
					base := 300000 + uint32(i)*65536
					check(b, r, entryFor(p.spawn(i+1, 1), fmt.Sprintf("p%d", i), i+1, shaped(shape, base, 1000650000+uint32(i)*10000)), false)
				}
				self := entryFor(p.spawn(100000, 1), "me", 100000, shaped(shape, 200000, 1000000000))
				b.ReportAllocs()
				for b.Loop() {
					res, st := check(b, r, self, false)
					if len(res.Conflicts) != 0 || !st.Written {
						b.Fatal(res, st)
					}
					b.StopTimer()
					removeEntry(b, r, self)
					b.StartTimer()
				}
			})
		}
	}
}

// shaped is a map of the named shape in the 65536 IDs from base:
// map-to-root's "1 base 65535" + "0 root 1" (each pod in a project of its
// own, with its own root ID), or 340 one-ID extents spread over the block.
func shaped(shape string, base, root uint32) []rspec.LinuxIDMapping {
	if shape == "realistic" {
		return maps(1, base, 65535, 0, root, 1)
	}
	var out []rspec.LinuxIDMapping
	for i := range uint32(340) {
		out = append(out, rspec.LinuxIDMapping{ContainerID: i, HostID: base + i*192, Size: 1})
	}
	return out
}

func removeEntry(b *testing.B, r *Registry, e *Entry) {
	if err := r.Remove(e.NS); err != nil {
		b.Fatal(err)
	}
}
