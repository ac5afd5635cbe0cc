package images

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/crio-userns/crio-userns/internal/mountinfo"
	"github.com/crio-userns/crio-userns/internal/testenv"
)

func TestStoreReference(t *testing.T) {
	tests := []struct {
		st   Store
		want string
	}{
		{Store{Root: "/s/root", RunRoot: "/s/run"}, "containers-storage:[overlay@/s/root+/s/run]" + RefPause},
		{Store{Root: "/s/root", RunRoot: "/s/run", Driver: "vfs"}, "containers-storage:[vfs@/s/root+/s/run]" + RefPause},
	}
	for _, tt := range tests {
		if got := tt.st.Reference(RefPause); got != tt.want {
			t.Errorf("Reference = %q, want %q", got, tt.want)
		}
	}
}

func TestLoadRejectsBadInput(t *testing.T) {
	ctx := context.Background()
	img := Image{Name: "x", Ref: RefPause, Layout: "/nonexistent", Tag: "latest"}
	tests := []struct {
		name string
		img  Image
		st   Store
		want string
	}{
		{"relative root", img, Store{Root: "root", RunRoot: "/run/x"}, "want an absolute path"},
		{"relative runroot", img, Store{Root: "/r", RunRoot: "run"}, "want an absolute path"},
		{"plus in root", img, Store{Root: "/a+b", RunRoot: "/run/x"}, "cannot contain"},
		{"image not built", Image{Name: "x"}, Store{Root: "/r", RunRoot: "/run/x"}, "use an Image from Build"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := LoadInto(ctx, tt.img, tt.st)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestLoadIntoContainersStorage is the end-to-end check: build the images,
// load them into a private store the way the node bench does, find each with
// skopeo inspect, and leave no mount behind. It needs root (skopeo's overlay
// driver mounts), skopeo, go and busybox-static.
func TestLoadIntoContainersStorage(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "skopeo", "skopeo")
	requireBuildTools(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	imgs, err := Build(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	st := Store{Root: filepath.Join(base, "root"), RunRoot: filepath.Join(base, "runroot")}
	// Registered after TempDir, so it runs before the directory is removed;
	// a failing test must not leave mounts either.
	t.Cleanup(func() {
		if _, err := mountinfo.UnmountUnder(base); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		if left, _ := mountinfo.MountsUnder(base); len(left) != 0 {
			t.Errorf("mounts left under %s after cleanup: %+v", base, left)
		}
	})

	if _, err := Inspect(ctx, st, RefUsernstest); !errors.Is(err, ErrNotInStore) {
		t.Errorf("Inspect before loading: %v, want ErrNotInStore", err)
	}
	for _, img := range imgs {
		start := time.Now()
		if err := Load(ctx, img, st.Root, st.RunRoot); err != nil {
			t.Fatal(err)
		}
		t.Logf("loaded %s in %v", img.Ref, time.Since(start))
		// Load itself leaves nothing mounted (pitfall P6).
		if left, err := mountinfo.MountsUnder(base); err != nil || len(left) != 0 {
			t.Fatalf("after loading %s: mounts %+v (%v)", img.Ref, left, err)
		}
	}
	for _, img := range imgs {
		digest, err := Inspect(ctx, st, img.Ref)
		if err != nil {
			t.Fatal(err)
		}
		if digest != img.Digest {
			t.Errorf("%s: store has %s, layout has %s", img.Ref, digest, img.Digest)
		}
	}
	if left, _ := mountinfo.MountsUnder(base); len(left) != 0 {
		t.Errorf("Inspect left mounts: %+v", left)
	}

	// Loading again (a node-up over an existing store) is fine.
	if err := Load(ctx, imgs[0], st.Root, st.RunRoot); err != nil {
		t.Errorf("second load: %v", err)
	}

	// A mount that was there before (CRI-O running on the store holds
	// ROOT/overlay mounted) survives a load.
	home := filepath.Join(st.Root, DefaultDriver)
	if err := unix.Mount(home, home, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind-mounting %s: %v", home, err)
	}
	if err := Load(ctx, imgs[1], st.Root, st.RunRoot); err != nil {
		t.Fatal(err)
	}
	left, err := mountinfo.MountsUnder(base)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left[0].MountPoint != home {
		t.Errorf("with %s mounted beforehand, a load left %+v, want just that mount", home, left)
	}
	if _, err := mountinfo.UnmountUnder(base); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(st.Root, "overlay-images", "images.json")); err != nil {
		t.Errorf("store has no image index: %v", err)
	}
}
