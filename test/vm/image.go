package vm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/crio-userns/crio-userns/internal/command"
	"github.com/crio-userns/crio-userns/test/images"
)

// Suite is the Debian release the guest is built from: kernel 6.12,
// systemd 257, crun 1.21, as on RHEL 10 / RHCOS 10 era nodes.
const Suite = "trixie"

// Packages are what the guest installs on top of mmdebstrap's minbase. CRI-O
// itself comes from the host's build (dynamically linked against libseccomp).
var Packages = []string{
	// boot: systemd as PID 1, the kernel and its initramfs, fsck for the root
	"systemd", "systemd-sysv", "udev", "dbus", "linux-image-amd64", "kmod", "e2fsprogs",
	// the runtimes and the monitor CRI-O drives
	"crun", "runc", "conmon", "libseccomp2",
	// the loopback CNI plugin, skopeo to load the test images
	"containernetworking-plugins", "skopeo",
	// what the agent and the tests run, CRI-O's own bats harness included
	"iproute2", "procps", "util-linux", "mount", "bats", "jq", "socat",
}

// initramfsModules find and mount the root: virtio-blk disk, ext4.
var initramfsModules = []string{"virtio_blk", "ext4"}

// ImageFormat and BaseFormat change whenever the build changes in a way
// the spec does not capture (they are part of the cache keys).
const (
	ImageFormat = "1"
	BaseFormat  = "1"
)

// ImageSpec is every input of the guest's root file system.
type ImageSpec struct {
	Suite    string
	Mirror   string
	Packages []string
	Files    map[string]string // path in the guest → content; "->TARGET" makes a symlink
	Format   string
	SizeMiB  int
	// Initramfs are the only modules the initramfs carries.
	Initramfs []string
}

// DefaultImageSpec is the guest node's image.
func DefaultImageSpec() ImageSpec {
	return ImageSpec{Suite: Suite, Mirror: DebianMirror(), Packages: Packages, Files: guestFiles(), Format: ImageFormat, SizeMiB: 6144, Initramfs: initramfsModules}
}

// BaseKey is a digest of what goes into the packages' root file system;
// Key adds the guest's own files: changing a unit rebuilds only the disk
// image (seconds), not the Debian root (minutes).
func (s ImageSpec) BaseKey() string {
	pk := append([]string(nil), s.Packages...)
	sort.Strings(pk)
	return digest(struct {
		Suite, Mirror, Format string
		Packages, Initramfs   []string
	}{s.Suite, s.Mirror, BaseFormat, pk, s.Initramfs})
}

// Key is a digest of the whole spec: an image built from an equal spec is
// reused.
func (s ImageSpec) Key() string {
	return digest(struct {
		Base, Format string
		Files        map[string]string
		SizeMiB      int
	}{s.BaseKey(), s.Format, s.Files, s.SizeMiB})
}

func digest(v any) string {
	data, _ := json.Marshal(v) // maps marshal in key order
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:16]
}

// DebianMirror is the mirror the host's apt uses for Debian itself (the
// guest's packages come from the same place, by suite name), or
// deb.debian.org when none is configured.
func DebianMirror() string {
	for _, f := range []string{"/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"} {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			fields := strings.Fields(line)
			var uri string
			switch {
			case len(fields) >= 2 && fields[0] == "URIs:":
				uri = fields[1]
			case len(fields) >= 3 && fields[0] == "deb" && !strings.HasPrefix(fields[1], "["):
				uri = fields[1]
			}
			if strings.HasSuffix(strings.TrimRight(uri, "/"), "/debian") {
				return strings.TrimRight(uri, "/")
			}
		}
	}
	return "http://deb.debian.org/debian"
}

// Image is a built guest: a raw ext4 root file system and the kernel and
// initramfs to boot it with.
type Image struct {
	Dir     string
	Root    string // root.img, ext4, booted with snapshot=on so it never changes
	Kernel  string
	Initrd  string
	Key     string
	Reused  bool
	Elapsed time.Duration
	// Versions are the guest's package versions (dpkg), for reports.
	Versions map[string]string
}

// BuildImage returns the image for spec under cacheDir, building what is
// not there for its keys: the Debian root (mmdebstrap, minutes) and the disk
// image with the guest's files (mkfs.ext4, seconds). Older ones are removed
// once a new one is complete. Concurrent builds on one cacheDir are
// serialised.
func BuildImage(ctx context.Context, spec ImageSpec, cacheDir string, log io.Writer) (*Image, error) {
	if log == nil {
		log = io.Discard
	}
	cacheDir, err := filepath.Abs(cacheDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, err
	}
	unlock, err := lock(filepath.Join(cacheDir, ".lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()

	start := time.Now()
	base, versions, err := buildBase(ctx, spec, cacheDir, log)
	if err != nil {
		return nil, err
	}
	key := spec.Key()
	dir := filepath.Join(cacheDir, "image-"+key)
	img := &Image{Dir: dir, Root: filepath.Join(dir, "root.img"), Kernel: filepath.Join(base, "vmlinuz"),
		Initrd: filepath.Join(base, "initrd.img"), Key: key, Versions: versions}
	if exists(filepath.Join(dir, ".complete")) {
		img.Reused = true
		return img, nil
	}
	_ = os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	rootfs := filepath.Join(dir, "rootfs")
	if err := command.Run(exec.CommandContext(ctx, "cp", "-a", filepath.Join(base, "rootfs"), rootfs), log); err != nil {
		return nil, err
	}
	if err := images.WriteTree(rootfs, spec.Files); err != nil {
		return nil, err
	}
	mkfs := exec.CommandContext(ctx, "mkfs.ext4", "-q", "-F", "-L", "crio-userns", "-d", rootfs, img.Root, fmt.Sprintf("%dM", spec.SizeMiB))
	if err := command.Run(mkfs, log); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(rootfs); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, ".complete"), nil, 0o644); err != nil {
		return nil, err
	}
	img.Elapsed = time.Since(start)
	fmt.Fprintf(log, "vm: guest image %s made in %s (kernel %s, systemd %s, crun %s, runc %s, conmon %s)\n", key,
		img.Elapsed.Round(time.Second), versions["linux-image-amd64"], versions["systemd"], versions["crun"], versions["runc"], versions["conmon"])
	removeOthers(cacheDir, "image-*", dir)
	return img, nil
}

// buildBase returns the directory of the Debian root for spec's packages,
// running mmdebstrap when there is none.
func buildBase(ctx context.Context, spec ImageSpec, cacheDir string, log io.Writer) (string, map[string]string, error) {
	key := spec.BaseKey()
	dir := filepath.Join(cacheDir, "base-"+key)
	var versions map[string]string
	if data, err := os.ReadFile(filepath.Join(dir, "versions.json")); err == nil && json.Unmarshal(data, &versions) == nil {
		return dir, versions, nil
	}
	for _, tool := range []struct{ bin, pkg string }{{"mmdebstrap", "mmdebstrap"}, {"mkfs.ext4", "e2fsprogs"}} {
		if _, err := exec.LookPath(tool.bin); err != nil {
			return "", nil, fmt.Errorf("building the guest image needs %s (apt-get install %s)", tool.bin, tool.pkg)
		}
	}
	start := time.Now()
	_ = os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	rootfs := filepath.Join(dir, "rootfs")
	fmt.Fprintf(log, "vm: building the guest's Debian %s root %s (%d packages) in %s\n", spec.Suite, key, len(spec.Packages), dir)
	mm := exec.CommandContext(ctx, "nice", "-n", "10", "mmdebstrap", "--mode=root", "--variant=minbase",
		"--include="+strings.Join(spec.Packages, ","))
	mm.Args = append(mm.Args, images.MinimalDpkgOptions...)
	mm.Args = append(mm.Args,
		// An initramfs with only what finds the root (Debian's default
		// carries every driver, and probing them all takes half a minute
		// under TCG). Written before the kernel package runs its hooks.
		"--setup-hook=mkdir -p \"$1/etc/initramfs-tools/conf.d\" \"$1/usr/share/initramfs-tools/modules.d\"",
		"--setup-hook=echo MODULES=list > \"$1/etc/initramfs-tools/conf.d/crio-userns.conf\"",
		"--setup-hook=printf '"+strings.Join(spec.Initramfs, "\\n")+"\\n' > \"$1/usr/share/initramfs-tools/modules.d/crio-userns\"",
		spec.Suite, rootfs, spec.Mirror)
	if err := command.Run(mm, log); err != nil {
		return "", nil, fmt.Errorf("mmdebstrap: %w", err)
	}
	versions, err := dpkgVersions(rootfs)
	if err != nil {
		return "", nil, err
	}
	if err := extractBoot(rootfs, dir); err != nil {
		return "", nil, err
	}
	data, _ := json.MarshalIndent(versions, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "versions.json"), data, 0o644); err != nil {
		return "", nil, err
	}
	fmt.Fprintf(log, "vm: Debian root %s built in %s\n", key, time.Since(start).Round(time.Second))
	removeOthers(cacheDir, "base-*", dir)
	return dir, versions, nil
}

// removeOthers deletes cacheDir/glob except keep: each is gigabytes.
func removeOthers(cacheDir, glob, keep string) {
	old, _ := filepath.Glob(filepath.Join(cacheDir, glob))
	for _, o := range old {
		if o != keep {
			_ = os.RemoveAll(o)
		}
	}
}

// dpkgVersions reads the installed packages' versions from the root's dpkg
// status file.
func dpkgVersions(rootfs string) (map[string]string, error) {
	data, err := os.ReadFile(filepath.Join(rootfs, "var", "lib", "dpkg", "status"))
	if err != nil {
		return nil, fmt.Errorf("reading the guest's dpkg status: %w", err)
	}
	versions := map[string]string{}
	for _, para := range strings.Split(string(data), "\n\n") {
		var name, version string
		for _, line := range strings.Split(para, "\n") {
			if v, ok := strings.CutPrefix(line, "Package: "); ok {
				name = v
			}
			if v, ok := strings.CutPrefix(line, "Version: "); ok {
				version = v
			}
		}
		if name != "" {
			versions[name] = version
		}
	}
	return versions, nil
}

// extractBoot copies the kernel and initramfs out of rootfs/boot into dir.
func extractBoot(rootfs, dir string) error {
	for _, f := range []struct{ glob, dst string }{{"vmlinuz-*", filepath.Join(dir, "vmlinuz")}, {"initrd.img-*", filepath.Join(dir, "initrd.img")}} {
		matches, _ := filepath.Glob(filepath.Join(rootfs, "boot", f.glob))
		if len(matches) != 1 {
			return fmt.Errorf("guest image: want one /boot/%s, found %v", f.glob, matches)
		}
		data, err := os.ReadFile(matches[0])
		if err != nil {
			return err
		}
		if err := os.WriteFile(f.dst, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }
