package registry

import (
	"fmt"
	"testing"
)

// BenchmarkCheckAndRecord is check 7's whole cost for one container start
// (lock, read, compare, sweep, write) with n other live pods registered.
// Run with TMPDIR on a tmpfs, as the registry is on a node.
func BenchmarkCheckAndRecord(b *testing.B) {
	for _, n := range []int{0, 10, 100, 1000} {
		b.Run(fmt.Sprintf("pods=%d", n), func(b *testing.B) {
			p := proc{&testing.T{}, b.TempDir()}
			r := &Registry{Dir: b.TempDir(), ProcRoot: p.root}
			for i := range n {
				e := entryFor(p.spawn(i+1, 1), fmt.Sprintf("c%d", i), fmt.Sprintf("p%d", i), i+1, maps(0, 300000+uint32(i)*65536, 65536))
				if _, _, err := r.CheckAndRecord(e, projectRange, true, false); err != nil {
					b.Fatal(err)
				}
			}
			self := entryFor(p.spawn(100000, 1), "me", "me", 100000, maps(1, 200000, 65535, 0, 1000650000, 1))
			b.ReportAllocs()
			for b.Loop() {
				if c, _, err := r.CheckAndRecord(self, projectRange, true, false); err != nil || len(c) != 0 {
					b.Fatal(c, err)
				}
			}
		})
	}
}
