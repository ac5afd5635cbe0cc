package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/crio-userns/crio-userns/internal/repo"
	"github.com/crio-userns/crio-userns/test/images/ocilayout"
)

// Image is a built image: an OCI layout on disk, and the reference it gets
// when loaded into a store.
type Image struct {
	Name   string // short name, also the layout directory's name: "usernstest"
	Ref    string // reference in the store: RefUsernstest, ...
	Layout string // absolute path of the OCI image layout directory
	Tag    string // the manifest's ref.name in the layout
	Digest string // manifest digest; the same in the layout and, after Load, in the store
	Size   int64  // bytes of manifest, config and layer blobs
	Reused bool   // the layout from an earlier Build was still current and kept
}

// OCIReference is the layout as skopeo names it, "oci:DIR:TAG".
func (img Image) OCIReference() string { return "oci:" + img.Layout + ":" + img.Tag }

// DefaultBusybox is where Debian's busybox-static installs its binary.
const DefaultBusybox = "/bin/busybox"

// Builder builds the test images. The zero value is ready to use.
type Builder struct {
	ModuleRoot string    // checkout to compile from; default repo.Root()
	Go         string    // go command; default "go" on PATH, then /usr/local/go/bin/go
	Busybox    string    // static busybox for the Fedora stand-in; default DefaultBusybox
	Log        io.Writer // one line per image built or reused; nil for none
}

// Build builds the three images into workDir with a zero Builder.
func Build(ctx context.Context, workDir string) ([]Image, error) {
	return (&Builder{}).Build(ctx, workDir)
}

// Build compiles usernstest and writes the three image layouts under workDir:
//
//	workDir/bin/usernstest             the static binary
//	workDir/layouts/NAME/              OCI image layout, tag "latest"
//	workDir/layouts/NAME.fingerprint   inputs of the layout above
//
// The images come back in the order of Refs. A layout whose fingerprint (a
// hash of every byte and setting that goes into it, see
// ocilayout.Fingerprint) matches the recorded one is kept as it is, so an
// unchanged rebuild writes nothing and costs about one cached `go build`.
// Concurrent Builds on one workDir (parallel make jobs) are serialised with a
// lock file.
func (b *Builder) Build(ctx context.Context, workDir string) ([]Image, error) {
	workDir, err := filepath.Abs(workDir)
	if err != nil {
		return nil, fmt.Errorf("work dir: %w", err)
	}
	root := b.ModuleRoot
	if root == "" {
		if root, err = repo.Root(); err != nil {
			return nil, err
		}
	}
	goCmd, err := goTool(b.Go)
	if err != nil {
		return nil, err
	}
	busybox := b.Busybox
	if busybox == "" {
		busybox = DefaultBusybox
	}
	if err := checkStatic(busybox); err != nil {
		return nil, fmt.Errorf("busybox for the Fedora stand-in: %w (install busybox-static, not busybox)", err)
	}
	if err := checkApplets(ctx, busybox, BusyboxApplets); err != nil {
		return nil, err
	}
	for _, dir := range []string{filepath.Join(workDir, "bin"), filepath.Join(workDir, "layouts")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("creating %s: %w", dir, err)
		}
	}
	unlock, err := lockDir(workDir)
	if err != nil {
		return nil, err
	}
	defer unlock()

	usernstest := filepath.Join(workDir, "bin", "usernstest")
	if err := buildStatic(ctx, goCmd, root, usernstestPackage, usernstest); err != nil {
		return nil, err
	}
	var out []Image
	for _, spec := range imageSpecs(usernstest, busybox) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		img, err := writeImage(filepath.Join(workDir, "layouts"), spec)
		if err != nil {
			return nil, err
		}
		if b.Log != nil {
			verb := "built"
			if img.Reused {
				verb = "unchanged"
			}
			fmt.Fprintf(b.Log, "image %s: %s %s (%d bytes) at %s\n", img.Ref, verb, img.Digest, img.Size, img.Layout)
		}
		out = append(out, img)
	}
	return out, nil
}

// writeImage writes spec's layout under layoutsDir unless the layout there
// was written from identical inputs.
func writeImage(layoutsDir string, spec imageSpec) (Image, error) {
	dir := filepath.Join(layoutsDir, spec.Name)
	stamp := dir + ".fingerprint"
	fp, err := ocilayout.Fingerprint(spec.Image)
	if err != nil {
		return Image{}, fmt.Errorf("image %s: %w", spec.Ref, err)
	}
	img := Image{Name: spec.Name, Ref: spec.Ref, Layout: dir, Tag: spec.Image.Tag}
	if old, err := os.ReadFile(stamp); err == nil && strings.TrimSpace(string(old)) == fp {
		if res, err := ocilayout.Read(dir, spec.Image.Tag); err == nil {
			img.Digest, img.Size, img.Reused = res.Manifest.Digest, res.Size(), true
			return img, nil
		}
		// A damaged layout with a current stamp: fall through and rewrite it.
	}
	// Remove the stamp first: if writing fails half-way, the next Build must
	// not trust whatever is left.
	if err := os.Remove(stamp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return Image{}, fmt.Errorf("image %s: removing stale stamp: %w", spec.Ref, err)
	}
	res, err := ocilayout.Write(dir, spec.Image)
	if err != nil {
		return Image{}, fmt.Errorf("image %s: %w", spec.Ref, err)
	}
	if err := os.WriteFile(stamp, []byte(fp+"\n"), 0o644); err != nil {
		return Image{}, fmt.Errorf("image %s: writing stamp: %w", spec.Ref, err)
	}
	img.Digest, img.Size = res.Manifest.Digest, res.Size()
	return img, nil
}

// lockDir takes an exclusive flock on dir/.lock until the returned function
// is called.
func lockDir(dir string) (func(), error) {
	path := filepath.Join(dir, ".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening lock %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() { f.Close() }, nil // closing releases the lock
}
