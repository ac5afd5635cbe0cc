package images

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/crio-userns/crio-userns/internal/mountinfo"
)

// DefaultDriver is the storage driver the node's CRI-O uses (overlay works
// on this machine kind's ext4 root, with idmapped lower layers).
const DefaultDriver = "overlay"

// Store names a containers-storage: the root, runroot and driver CRI-O is
// configured with (crio.conf root, runroot, storage_driver). The images must
// be loaded with the same three values or CRI-O will not see them.
type Store struct {
	Root    string // absolute
	RunRoot string // absolute
	Driver  string // default DefaultDriver
	Skopeo  string // skopeo command; default "skopeo" on PATH
}

func (s Store) driver() string {
	if s.Driver == "" {
		return DefaultDriver
	}
	return s.Driver
}

// Reference is ref in this store as a containers/image transport reference,
// "containers-storage:[DRIVER@ROOT+RUNROOT]REF".
func (s Store) Reference(ref string) string {
	return fmt.Sprintf("containers-storage:[%s@%s+%s]%s", s.driver(), s.Root, s.RunRoot, ref)
}

func (s Store) validate() error {
	for name, p := range map[string]string{"root": s.Root, "runroot": s.RunRoot} {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("store %s %q: want an absolute path", name, p)
		}
		// The bracketed store spec has no escaping.
		if strings.ContainsAny(p, "[]@+") {
			return fmt.Errorf("store %s %q: containers-storage references cannot contain [ ] @ +", name, p)
		}
	}
	return nil
}

// Load copies img into the store at storageRoot/runRoot with the default
// driver. See LoadInto.
func Load(ctx context.Context, img Image, storageRoot, runRoot string) error {
	return LoadInto(ctx, img, Store{Root: storageRoot, RunRoot: runRoot})
}

// LoadInto copies img's layout into st under img.Ref with skopeo, keeping
// the manifest digest, so that Inspect(st, img.Ref) equals img.Digest. It
// works on a fresh store, on an existing one, and while CRI-O runs on it;
// re-loading an unchanged image is cheap (the blobs are already there).
//
// skopeo's overlay driver bind-mounts its home, ROOT/overlay, onto itself and
// leaves that mount behind (pitfall P6). LoadInto unmounts a mount of the
// driver home only if it appeared while skopeo ran: a running CRI-O's own
// mount of the same directory, and mounts CRI-O makes meanwhile below it
// (container root filesystems), are left alone.
func LoadInto(ctx context.Context, img Image, st Store) error {
	if img.Layout == "" || img.Ref == "" {
		return fmt.Errorf("loading image %q: no layout or reference (use an Image from Build)", img.Name)
	}
	if err := st.validate(); err != nil {
		return fmt.Errorf("loading %s: %w", img.Ref, err)
	}
	policy, err := writePolicy()
	if err != nil {
		return fmt.Errorf("loading %s: %w", img.Ref, err)
	}
	defer os.Remove(policy)
	// --preserve-digests makes skopeo fail rather than silently rewrite the
	// manifest, so the store's digest is the layout's.
	_, err = runSkopeo(ctx, st, "--policy", policy, "copy", "--quiet", "--preserve-digests",
		img.OCIReference(), st.Reference(img.Ref))
	if err != nil {
		return fmt.Errorf("loading %s into %s: %w", img.Ref, st.Root, err)
	}
	return nil
}

// Inspect returns the manifest digest of ref in st, or an error wrapping
// ErrNotInStore if the store has no such image.
func Inspect(ctx context.Context, st Store, ref string) (string, error) {
	if err := st.validate(); err != nil {
		return "", fmt.Errorf("inspecting %s: %w", ref, err)
	}
	out, err := runSkopeo(ctx, st, "inspect", st.Reference(ref))
	if err != nil {
		if strings.Contains(err.Error(), "does not resolve to an image ID") || strings.Contains(err.Error(), "image not known") {
			return "", fmt.Errorf("inspecting %s in %s: %w: %v", ref, st.Root, ErrNotInStore, err)
		}
		return "", fmt.Errorf("inspecting %s in %s: %w", ref, st.Root, err)
	}
	var info struct{ Digest string }
	if err := json.Unmarshal(out, &info); err != nil {
		return "", fmt.Errorf("inspecting %s: parsing skopeo output: %w", ref, err)
	}
	if info.Digest == "" {
		return "", fmt.Errorf("inspecting %s: skopeo printed no digest", ref)
	}
	return info.Digest, nil
}

// ErrNotInStore is wrapped by Inspect's error when the image is absent.
var ErrNotInStore = errors.New("image not in store")

// skopeoMu serialises skopeo runs in this process: the mount bookkeeping in
// runSkopeo attributes a new mount of the driver home to the running skopeo.
var skopeoMu sync.Mutex

// runSkopeo runs skopeo with args and returns its stdout, then unmounts the
// driver home if skopeo left it mounted.
func runSkopeo(ctx context.Context, st Store, args ...string) ([]byte, error) {
	skopeoMu.Lock()
	defer skopeoMu.Unlock()
	bin := st.Skopeo
	if bin == "" {
		bin = "skopeo"
	}
	home := filepath.Join(st.Root, st.driver())
	before, err := mountinfo.MountsAt(home)
	if err != nil {
		return nil, err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	after, err := mountinfo.MountsAt(home)
	if err != nil {
		return nil, errors.Join(runErr, err)
	}
	if _, err := mountinfo.UnmountNew(before, after); err != nil {
		runErr = errors.Join(runErr, fmt.Errorf("cleaning up skopeo's mounts: %w", err))
	}
	if runErr != nil {
		return nil, fmt.Errorf("skopeo %s: %w: %s", strings.Join(args, " "), runErr, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// writePolicy writes a signature policy that accepts anything, for copies
// from a local layout: skopeo copy needs a policy, and the machine's
// /etc/containers/policy.json is not ours to rely on.
func writePolicy() (string, error) {
	f, err := os.CreateTemp("", "crio-userns-policy-*.json")
	if err != nil {
		return "", fmt.Errorf("writing signature policy: %w", err)
	}
	_, err = f.WriteString(`{"default":[{"type":"insecureAcceptAnything"}]}` + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("writing signature policy: %w", err)
	}
	return f.Name(), nil
}

// Loader returns a function that builds the test images into workDir (once;
// unchanged inputs are reused) and loads each into the storage at root and
// runRoot: what a node bench needs before crio starts.
func Loader(workDir string) func(ctx context.Context, root, runRoot string) error {
	return func(ctx context.Context, root, runRoot string) error {
		built, err := Build(ctx, workDir)
		if err != nil {
			return err
		}
		for _, img := range built {
			if err := Load(ctx, img, root, runRoot); err != nil {
				return err
			}
		}
		return nil
	}
}
