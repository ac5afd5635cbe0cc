package e2e

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/crio-userns/crio-userns/test/podrun"
	"github.com/crio-userns/crio-userns/test/scenarios"
)

// medianStartup holds each flavour's median pod start-up time of this run,
// so the patched benchmark can report its ratio to pristine measured on the
// same machine at the same time.
var medianStartup = map[flavour]time.Duration{}

// BenchmarkPodStartup measures RunPodSandbox + CreateContainer +
// StartContainer of field report 000's map-to-root pod: on pristine CRI-O with
// the pod-level runAsUser set by hand (the workaround), on patched CRI-O
// without any runAsUser (deferred mappings, written at CreateContainer). It
// reports medians and the patched/pristine ratio. `make bench` runs it with
// -benchtime 20x: twenty pods per flavour.
func BenchmarkPodStartup(b *testing.B) {
	manifest := map[flavour]string{
		pristine: "000-fedora-map-to-root.yaml",
		patched:  "000-fedora-map-to-root-no-runasuser.yaml",
	}
	for _, f := range []flavour{pristine, patched} {
		b.Run(string(f), func(b *testing.B) {
			n := nodeFor(b, f)
			pod, err := podrun.LoadManifest(scenarios.Example(manifest[f]))
			if err != nil {
				b.Fatal(err)
			}
			var samples []time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res, err := podrun.Run(context.Background(), pod, podrun.Options{Socket: n.Socket(), SCC: podrun.SCCRestricted, Settle: time.Millisecond})
				if err != nil {
					b.Fatal(err)
				}
				if !res.OK() || len(res.Containers) != 1 {
					b.Fatalf("pod did not run:\n%s", text(res))
				}
				c := res.Containers[0]
				samples = append(samples, res.Timings.RunPodSandbox+c.Timings.CreateContainer+c.Timings.StartContainer)
			}
			b.StopTimer()
			sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
			median := samples[len(samples)/2]
			medianStartup[f] = median
			b.ReportMetric(float64(median.Microseconds())/1000, "ms-median-start")
			if f == patched && medianStartup[pristine] > 0 {
				b.ReportMetric(float64(median)/float64(medianStartup[pristine]), "ratio-vs-pristine")
			}
		})
	}
}
