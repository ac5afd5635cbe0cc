package images

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crio-userns/crio-userns/internal/testenv"
	"github.com/crio-userns/crio-userns/test/images/ocilayout"
)

// requireBuildTools fails (or, under E2E=skip, skips) unless Build can run:
// it needs the go command and busybox-static.
func requireBuildTools(t *testing.T) {
	t.Helper()
	_, err := goTool("")
	testenv.Require(t, err == nil, "no go command")
	testenv.Require(t, checkStatic(DefaultBusybox) == nil, DefaultBusybox+" is missing or not static (apt-get install busybox-static)")
}

func TestBuild(t *testing.T) {
	requireBuildTools(t)
	ctx := context.Background()
	work := t.TempDir()
	var log strings.Builder
	start := time.Now()
	imgs, err := (&Builder{Log: &log}).Build(ctx, work)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first build %v:\n%s", time.Since(start), log.String())
	if len(imgs) != len(Refs) {
		t.Fatalf("%d images, want %d", len(imgs), len(Refs))
	}
	for i, img := range imgs {
		if img.Ref != Refs[i] || img.Reused || img.Tag != "latest" || !filepath.IsAbs(img.Layout) {
			t.Errorf("image %d: %+v", i, img)
		}
		res, err := ocilayout.Read(img.Layout, img.Tag)
		if err != nil {
			t.Fatalf("%s: %v", img.Ref, err)
		}
		if res.Manifest.Digest != img.Digest || res.Size() != img.Size {
			t.Errorf("%s: layout has %s (%d bytes), Build said %s (%d bytes)", img.Ref, res.Manifest.Digest, res.Size(), img.Digest, img.Size)
		}
		if got := img.OCIReference(); got != "oci:"+img.Layout+":latest" {
			t.Errorf("OCIReference %q", got)
		}
	}
	if err := checkStatic(filepath.Join(work, "bin", "usernstest")); err != nil {
		t.Errorf("usernstest: %v", err)
	}

	// Unchanged inputs: nothing is rewritten and the digests stay.
	start = time.Now()
	again, err := Build(ctx, work)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("unchanged rebuild %v", time.Since(start))
	for i := range imgs {
		if !again[i].Reused || again[i].Digest != imgs[i].Digest {
			t.Errorf("rebuild of %s: reused=%v digest %s, want reused and %s", imgs[i].Ref, again[i].Reused, again[i].Digest, imgs[i].Digest)
		}
	}

	// A damaged layout is rewritten even though its stamp matches.
	layer := filepath.Join(imgs[0].Layout, "blobs", "sha256")
	blobs, err := os.ReadDir(layer)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range blobs {
		os.Remove(filepath.Join(layer, b.Name()))
	}
	repaired, err := Build(ctx, work)
	if err != nil {
		t.Fatal(err)
	}
	if repaired[0].Reused || repaired[0].Digest != imgs[0].Digest || !repaired[1].Reused {
		t.Errorf("after damaging %s: %+v", imgs[0].Layout, repaired)
	}

	// Another work dir, same sources: the same digests (the builds are
	// reproducible, so the node's store does not churn between runs).
	other, err := Build(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for i := range imgs {
		if other[i].Digest != imgs[i].Digest {
			t.Errorf("%s: digest %s in another work dir, %s in the first", imgs[i].Ref, other[i].Digest, imgs[i].Digest)
		}
	}
}

func TestBuildErrors(t *testing.T) {
	requireBuildTools(t)
	ctx := context.Background()
	tests := []struct {
		name string
		b    Builder
		want string
	}{
		{"dynamic busybox", Builder{Busybox: "/bin/ls"}, "install busybox-static"},
		{"no module", Builder{ModuleRoot: t.TempDir()}, "go build ./test/images/usernstest"},
		{"no go", Builder{Go: "/nonexistent/go"}, "go build"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.b.Build(ctx, t.TempDir())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
