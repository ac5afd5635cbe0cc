package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// Benchmarks of one in-process hook run (the exec benchmarks in
// hook/cmd/crio-userns-hook add process start-up). Compare
// BenchmarkHookFull/pods=0 and /pods=100 for check 7's cost per running pod.

func benchRun(b *testing.B, f *fixture) {
	b.Helper()
	f.write()
	data, _ := json.Marshal(f.state)
	args := []string{"--policy", filepath.Join(f.dir, "policy.toml"), "--proc-root", f.procRoot}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var stderr bytes.Buffer
		if code := Main(args, Options{Stdin: bytes.NewReader(data), Stdout: &stderr, Stderr: &stderr}); code != 0 {
			b.Fatalf("exit %d: %s", code, stderr.String())
		}
	}
}

// A CRI-O-sized config.json (env, mounts, annotations) matters for the fast
// path, which is mostly JSON scanning.
func padSpec(f *fixture) {
	for i := range 40 {
		f.spec.Process.Env = append(f.spec.Process.Env, fmt.Sprintf("VAR_%d=%s", i, strings.Repeat("v", 40)))
		f.spec.Annotations[fmt.Sprintf("io.kubernetes.cri-o.Extra%d", i)] = strings.Repeat("a", 60)
	}
}

func BenchmarkHookNoUserNamespace(b *testing.B) {
	f := newFixture(b)
	padSpec(f)
	f.noUserns()
	benchRun(b, f)
}

func BenchmarkHookFull(b *testing.B) {
	for _, pods := range []int{0, 10, 100} {
		b.Run(fmt.Sprintf("pods=%d", pods), func(b *testing.B) {
			f := newFixture(b)
			padSpec(f)
			for i := range pods {
				base := uint32(300000 + i*65536)
				f.register(fmt.Sprintf("ns%d", i), fmt.Sprintf("pod%d", i), "c", 10000+i, true, uidMaps(0, base, 65536), uidMaps(0, base, 65536))
			}
			benchRun(b, f)
		})
	}
}
