package images

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

	"github.com/crio-userns/crio-userns/internal/command"
	"github.com/crio-userns/crio-userns/test/images/ocilayout"
)

// RefSystemd is the systemd test image: Debian 13's systemd as PID 1 with a
// few ordinary services, one of them as a non-root account. It is the kind
// of workload (systemd, FreeIPA) this project exists for, and it needs
// cgroup v2, so it runs on the guest node.
const RefSystemd = "localhost/crio-userns/systemd:latest"

// SystemdServices are the image's own services and the account each runs
// as, besides what Debian's systemd and dbus bring (journald, logind as
// root, dbus-daemon as messagebus).
var SystemdServices = map[string]string{
	"userapp.service":   "nobody",
	"workerapp.service": "daemon",
}

// SystemdBootedCmd waits in the container until systemd has booted and
// prints its state (running, degraded, ...). systemctl cannot connect before
// systemd has made its private socket, which an exec right after
// StartContainer can precede.
var SystemdBootedCmd = []string{"/bin/sh", "-c",
	"while [ ! -S /run/systemd/private ]; do sleep 0.2; done; exec systemctl is-system-running --wait"}

// SystemdSpec is every input of the systemd image.
type SystemdSpec struct {
	Suite    string
	Mirror   string
	Packages []string
	Files    map[string]string // path → content; "->TARGET" makes a symlink
}

// DefaultSystemdSpec is the image the e2e suite and the demo run. mirror is
// the Debian mirror to build from (the guest's, vm.DebianMirror).
func DefaultSystemdSpec(suite, mirror string) SystemdSpec {
	files := map[string]string{
		// systemd makes a fresh machine ID at boot when the file is empty.
		"/etc/machine-id":                    "",
		"/etc/systemd/system/default.target": "->/lib/systemd/system/multi-user.target",
	}
	for unit, user := range SystemdServices {
		files["/etc/systemd/system/"+unit] = fmt.Sprintf(`[Unit]
Description=crio-userns test service running as %[1]s

[Service]
User=%[1]s
ExecStart=/bin/sleep infinity

[Install]
WantedBy=multi-user.target
`, user)
		files["/etc/systemd/system/multi-user.target.wants/"+unit] = "->/etc/systemd/system/" + unit
	}
	return SystemdSpec{Suite: suite, Mirror: mirror, Packages: []string{"systemd", "systemd-sysv", "dbus", "procps"}, Files: files}
}

// systemdFormat changes when the build changes in a way the spec does not
// capture (it is part of the key).
const systemdFormat = "1"

func (s SystemdSpec) key() string {
	pk := append([]string(nil), s.Packages...)
	sort.Strings(pk)
	s.Packages = pk
	data, _ := json.Marshal(struct {
		SystemdSpec
		Format string
	}{s, systemdFormat})
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// BuildSystemd writes the systemd image's layout under workDir/layouts,
// assembling its root with mmdebstrap (minutes) unless the layout there was
// built from an equal spec. It needs root and mmdebstrap.
func BuildSystemd(ctx context.Context, spec SystemdSpec, workDir string, log io.Writer) (Image, error) {
	if log == nil {
		log = io.Discard
	}
	workDir, err := filepath.Abs(workDir)
	if err != nil {
		return Image{}, err
	}
	layouts := filepath.Join(workDir, "layouts")
	if err := os.MkdirAll(layouts, 0o755); err != nil {
		return Image{}, err
	}
	unlock, err := lockDir(workDir)
	if err != nil {
		return Image{}, err
	}
	defer unlock()
	dir := filepath.Join(layouts, "systemd")
	stamp := dir + ".spec"
	img := Image{Name: "systemd", Ref: RefSystemd, Layout: dir, Tag: layoutTag}
	key := spec.key()
	if old, err := os.ReadFile(stamp); err == nil && strings.TrimSpace(string(old)) == key {
		if res, err := ocilayout.Read(dir, layoutTag); err == nil {
			img.Digest, img.Size, img.Reused = res.Manifest.Digest, res.Size(), true
			return img, nil
		}
	}
	_ = os.Remove(stamp)
	if _, err := exec.LookPath("mmdebstrap"); err != nil {
		return Image{}, fmt.Errorf("the systemd image needs mmdebstrap (apt-get install mmdebstrap)")
	}
	files, err := os.MkdirTemp(workDir, ".systemd-files-")
	if err != nil {
		return Image{}, err
	}
	defer os.RemoveAll(files)
	if err := WriteTree(files, spec.Files); err != nil {
		return Image{}, err
	}
	tarPath := filepath.Join(workDir, "systemd-rootfs.tar")
	defer os.Remove(tarPath)
	fmt.Fprintf(log, "image %s: assembling Debian %s's %s with mmdebstrap\n", RefSystemd, spec.Suite, strings.Join(spec.Packages, ", "))
	mm := exec.CommandContext(ctx, "nice", "-n", "10", "mmdebstrap", "--mode=root", "--variant=minbase", "--format=tar",
		"--include="+strings.Join(spec.Packages, ","))
	mm.Args = append(mm.Args, MinimalDpkgOptions...)
	mm.Args = append(mm.Args, "--customize-hook=sync-in "+files+" /", spec.Suite, tarPath, spec.Mirror)
	mm.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=0")
	if err := command.Run(mm, log); err != nil {
		return Image{}, fmt.Errorf("image %s: mmdebstrap: %w", RefSystemd, err)
	}
	res, err := ocilayout.Write(dir, ocilayout.Image{
		Tag:      layoutTag,
		LayerTar: tarPath,
		Config: ocilayout.Config{
			Cmd: []string{"/sbin/init"},
			// systemd decides it runs in a container from $container.
			Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "container=oci"},
			StopSignal: "SIGRTMIN+3",
			Labels:     label("systemd"),
		},
	})
	if err != nil {
		return Image{}, fmt.Errorf("image %s: %w", RefSystemd, err)
	}
	if err := os.WriteFile(stamp, []byte(key+"\n"), 0o644); err != nil {
		return Image{}, err
	}
	img.Digest, img.Size = res.Manifest.Digest, res.Size()
	fmt.Fprintf(log, "image %s: built %s (%d bytes) at %s\n", img.Ref, img.Digest, img.Size, dir)
	return img, nil
}

// MinimalDpkgOptions are mmdebstrap options that leave out documentation,
// manuals and locales: smaller images copy, load and boot faster.
var MinimalDpkgOptions = []string{
	"--dpkgopt=path-exclude=/usr/share/doc/*", "--dpkgopt=path-exclude=/usr/share/man/*",
	"--dpkgopt=path-exclude=/usr/share/locale/*", "--dpkgopt=path-include=/usr/share/locale/locale.alias",
}

// WriteTree writes files (path → content, "->TARGET" for a symlink) under
// root, replacing what is there.
func WriteTree(root string, files map[string]string) error {
	for p, content := range files {
		dst := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		_ = os.Remove(dst)
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(target, dst); err != nil {
				return err
			}
			continue
		}
		if err := os.WriteFile(dst, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}
