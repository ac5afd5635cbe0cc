package e2e

import (
	"context"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/crio-userns/crio-userns/test/images"
	"github.com/crio-userns/crio-userns/test/node"
	"github.com/crio-userns/crio-userns/test/podrun"
	"github.com/crio-userns/crio-userns/test/scenarios"
)

// BenchmarkPodStartup measures RunPodSandbox + CreateContainer +
// StartContainer of field report 000's map-to-root pod: on pristine CRI-O with
// the pod-level runAsUser set by hand (the workaround), on patched CRI-O
// without any runAsUser (deferred mappings, written at CreateContainer).
// Both nodes run at once and the pods alternate between them, so background
// load hits both alike. `make bench` runs it with -benchtime 60x: sixty pods
// per node (twenty give medians that move by ±10% between runs here). It reports the medians of each CRI call and the ratio of the
// totals.
func BenchmarkPodStartup(b *testing.B) {
	pristineNode := nodeFor(b, pristine)
	patchedNode := benchNode(b, patched)
	cases := []struct {
		f        flavour
		n        target
		manifest string
	}{
		{pristine, pristineNode, "000-fedora-map-to-root.yaml"},
		{patched, hostNode{patchedNode}, "000-fedora-map-to-root-no-runasuser.yaml"},
	}
	samples := map[flavour]map[string][]time.Duration{}
	for _, c := range cases {
		samples[c.f] = map[string][]time.Duration{}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, c := range cases {
			pod, err := podrun.LoadManifest(scenarios.Example(c.manifest))
			if err != nil {
				b.Fatal(err)
			}
			res, err := podrun.Run(context.Background(), pod, podrun.Options{Socket: c.n.Socket(), SCC: podrun.SCCRestricted, Settle: time.Millisecond})
			if err != nil {
				b.Fatal(err)
			}
			if !res.OK() || len(res.Containers) != 1 {
				b.Fatalf("%s: pod did not run:\n%s", c.f, text(res))
			}
			ct := res.Containers[0].Timings
			s := samples[c.f]
			s["run"] = append(s["run"], res.Timings.RunPodSandbox)
			s["create"] = append(s["create"], ct.CreateContainer)
			s["start"] = append(s["start"], ct.StartContainer)
			s["total"] = append(s["total"], res.Timings.RunPodSandbox+ct.CreateContainer+ct.StartContainer)
		}
	}
	b.StopTimer()
	for _, c := range cases {
		for _, call := range []string{"run", "create", "start", "total"} {
			b.ReportMetric(ms(median(samples[c.f][call])), string(c.f)+"-"+call+"-ms")
		}
	}
	b.ReportMetric(float64(median(samples[patched]["total"]))/float64(median(samples[pristine]["total"])), "ratio-patched/pristine")
}

// benchNode brings up a second node beside the current one for the length
// of a benchmark, and checks it leaves nothing behind.
func benchNode(b *testing.B, f flavour) *node.Node {
	dropIns, err := nodeDropIns(f)
	if err != nil {
		b.Fatal(err)
	}
	n, err := node.Up(context.Background(), node.Config{
		State: e2eDir("bench-" + crioVersion + "-" + string(f)), CrioDir: f.binDir(), DropIns: dropIns,
		LoadImages: images.Loader(e2eDir("images")), Log: os.Stderr,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		left, err := n.Down(context.Background())
		if err != nil {
			b.Error(err)
		} else if !left.Empty() {
			b.Errorf("benchmark node left:\n%s", left)
		}
	})
	return n
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
