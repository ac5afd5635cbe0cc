package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crio-userns/crio-userns/hook/internal/nsfs"
	"github.com/crio-userns/crio-userns/hook/internal/registry"
)

// Benchmarks of one in-process hook run (the exec benchmarks in
// hook/cmd/crio-userns-hook add process start-up and compare with a no-op
// binary). Each full run is a pod's first container: its registration is
// undone, untimed, after every run.

func benchRun(b *testing.B, f *fixture, after func()) {
	b.Helper()
	f.write()
	data, _ := json.Marshal(f.state)
	args := []string{"--policy", filepath.Join(f.dir, "policy.toml"), "--proc-root", f.procRoot}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var stderr bytes.Buffer
		if code := Main(args, Options{Stdin: bytes.NewReader(data), Stdout: &stderr, Stderr: &stderr}); code != 0 || stderr.Len() > 0 {
			b.Fatalf("exit %d: %s", code, stderr.String())
		}
		if after != nil {
			b.StopTimer()
			after()
			b.StartTimer()
		}
	}
}

// A CRI-O-sized config.json (env, mounts, annotations, a RuntimeDefault
// seccomp profile: about 30 KiB) matters, as every run decodes it.
func padSpec(f *fixture) {
	for i := range 40 {
		f.spec.Process.Env = append(f.spec.Process.Env, fmt.Sprintf("VAR_%d=%s", i, strings.Repeat("v", 40)))
		f.spec.Annotations[fmt.Sprintf("io.kubernetes.cri-o.Extra%d", i)] = strings.Repeat("a", 60)
		f.spec.Mounts = append(f.spec.Mounts, rspec.Mount{Destination: fmt.Sprintf("/var/run/secrets/%d", i), Type: "bind",
			Source: "/var/lib/kubelet/pods/" + strings.Repeat("x", 36) + "/volumes/" + fmt.Sprint(i), Options: []string{"rbind", "ro", "nosuid", "nodev"}})
	}
	names := make([]string, 380)
	for i := range names {
		names[i] = fmt.Sprintf("syscall_name_%03d", i)
	}
	f.spec.Linux.Seccomp = &rspec.LinuxSeccomp{DefaultAction: rspec.ActErrno,
		Architectures: []rspec.Arch{rspec.ArchX86_64, rspec.ArchX86, rspec.ArchX32},
		Syscalls:      []rspec.LinuxSyscall{{Names: names, Action: rspec.ActAllow}}}
}

func BenchmarkHookNoUserNamespace(b *testing.B) {
	f := newFixture(b)
	padSpec(f)
	f.noUserns()
	benchRun(b, f, nil)
}

// spread340 is a 340-extent map over the 131072 IDs from base.
func spread340(base uint32) []rspec.LinuxIDMapping {
	out := make([]rspec.LinuxIDMapping, 340)
	for i := range out {
		out[i] = rspec.LinuxIDMapping{ContainerID: uint32(i) * 193, HostID: base + uint32(i)*200, Size: 193}
	}
	return out
}

func BenchmarkHookFull(b *testing.B) {
	for _, shape := range []string{"realistic", "340-extents"} {
		for _, pods := range []int{0, 100, 250} {
			b.Run(fmt.Sprintf("%s/pods=%d", shape, pods), func(b *testing.B) {
				f := newFixture(b)
				f.files["bundle/rootfs/etc/passwd"] = "root:x:0:0:::\n"
				f.files["bundle/rootfs/etc/group"] = "root:x:0:\n"
				padSpec(f)
				// Each pod in a project of its own, with its own root ID.
				maps := func(base, root uint32) []rspec.LinuxIDMapping {
					if shape == "realistic" {
						return uidMaps(1, base, 65535, 0, root, 1)
					}
					return spread340(base)
				}
				f.spec.Linux.UIDMappings, f.spec.Linux.GIDMappings = maps(200000, 1000000000), maps(200000, 1000000000)
				for i := range pods {
					m := maps(uint32(400000+i*131072), uint32(1000650000+i*10000))
					f.register(fmt.Sprintf("ns%d", i), fmt.Sprintf("pod%d", i), "c", 10000+i, true, m, m)
				}
				reg := &registry.Registry{Dir: f.regDir, ProcRoot: f.procRoot}
				benchRun(b, f, func() {
					me, err := nsfs.Stat(filepath.Join(f.procRoot, "4242", "ns", "user"))
					mustT(b, err)
					mustT(b, reg.Remove(me))
				})
			})
		}
	}
}
