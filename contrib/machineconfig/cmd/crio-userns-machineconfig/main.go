// Command crio-userns-machineconfig writes what installs crio-userns on an
// OpenShift pool: in image mode (the default, OpenShift 4.19 and later) a
// MachineOSConfig and its Containerfile, in override mode a MachineConfig
// whose unit replaces cri-o with rpm-ostree before CRI-O and the kubelet
// start. See contrib/machineconfig/README.md.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/crio-userns/crio-userns/contrib/machineconfig"
	"github.com/crio-userns/crio-userns/internal/repo"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// errUsage marks errors in the command line (exit status 2).
var errUsage = errors.New("usage")

// config is a parsed command line.
type config struct {
	opts    machineconfig.Options
	contrib string // contrib/ directory; empty: the checkout's
	output  string // -o; empty or "-": stdout
}

func parse(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet(machineconfig.Command, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: %s [--mode image|override] --role POOL --cri-o-rpm RPM --cri-o-sha256 HEX -o OUT [flags]

--mode image (default; OpenShift 4.19 and later): writes into the directory OUT
a MachineOSConfig for the pool and its Containerfile, which replaces cri-o in
the pool's node image with the crio-userns RPM (checked against its sha256
and against the image's CRI-O line) and sets /etc/subuid and /etc/subgid;
--off-cluster writes the Containerfile for a build outside the cluster instead,
whose image a MachineConfig's osImageURL names by digest.

--mode override (package-based RHCOS pools): writes the MachineConfig file OUT,
whose oneshot unit downloads the RPMs, checks their sha256, stages them with
rpm-ostree and reboots once, before CRI-O and the kubelet start.

Flags:
`, machineconfig.Command)
		fs.PrintDefaults()
		fmt.Fprintf(stderr, `
Examples:
  %[1]s --role worker --cri-o-rpm cri-o-1.36.3-990.userns.1.el9.x86_64.rpm \
    --cri-o-sha256 HEX --rpm-image quay.io/me/crio-userns-rpms@sha256:HEX --push-secret SECRET -o worker/
  %[1]s --mode override --role worker \
    --cri-o-rpm https://example.com/cri-o-1.36.3-990.userns.1.el9.x86_64.rpm --cri-o-sha256 HEX -o mc.yaml
`, machineconfig.Command)
	}
	subids := machineconfig.FlagValue(machineconfig.DefaultSubIDRange)
	core := true
	o := &c.opts
	fs.StringVar(&o.Mode, "mode", machineconfig.ModeImage, "`image` (MachineOSConfig, OpenShift 4.19+) or override (rpm-ostree override replace)")
	fs.StringVar(&o.Role, "role", "worker", "`POOL` to configure: worker, master or a custom MachineConfigPool")
	fs.BoolVar(&o.AllowControlPlane, "allow-control-plane", false, "allow --role master")
	fs.StringVar(&o.Name, "name", "", "metadata.name (default: the pool's name in image mode, 99-POOL-crio-userns in override mode)")
	fs.StringVar(&o.CRIORPM, "cri-o-rpm", "", "the patched cri-o RPM: its `URL` (override) or its file name in the build context (image)")
	fs.StringVar(&o.CRIOSHA256, "cri-o-sha256", "", "sha256 of that RPM (`HEX`, mandatory)")
	fs.StringVar(&o.HookRPM, "hook-rpm", "", "the crio-userns-hook RPM, layered (`URL` or file name, optional)")
	fs.StringVar(&o.HookSHA256, "hook-sha256", "", "sha256 of the hook RPM (`HEX`, mandatory with --hook-rpm)")
	fs.StringVar(&o.Image.RPMImage, "rpm-image", "", "image mode: the image holding the RPMs (Containerfile.rpms), `REPO@sha256:HEX`")
	fs.StringVar(&o.Image.PushSecret, "push-secret", "", "image mode: renderedImagePushSecret (`SECRET` in openshift-machine-config-operator)")
	fs.StringVar(&o.Image.PushSpec, "push-spec", machineconfig.DefaultPushSpec, "image mode: renderedImagePushSpec, `HOST/PATH/NAME:TAG`")
	fs.StringVar(&o.Image.PullSecret, "base-image-pull-secret", "", "image mode: baseImagePullSecret (`SECRET`; default: the cluster's pull secret)")
	fs.BoolVar(&o.Image.OffCluster, "off-cluster", false, "image mode: write the Containerfile for a build outside the cluster (needs --base-image)")
	fs.StringVar(&o.Image.BaseImage, "base-image", "", "image mode, --off-cluster: the pool's node image `REPO@sha256:HEX` (oc adm release info --image-for rhel-coreos)")
	fs.StringVar(&subids, "subid-range", subids, "`START:SIZE` delegated to user "+machineconfig.SubIDOwner+" in /etc/subuid and /etc/subgid")
	fs.BoolVar(&core, "core-subid", true, "keep RHCOS's core:100000:65536 line in /etc/subuid and /etc/subgid")
	fs.BoolVar(&o.CgroupV2, "cgroupv2", false, "override mode: add field report 000's cgroup v2 kernel arguments")
	fs.StringVar(&c.output, "o", "", "override mode: the `OUT` file (default stdout); image mode: the directory (mandatory)")
	fs.StringVar(&c.contrib, "contrib", "", "contrib/ `DIR` to read the manifest and the hook policy from (default: the checkout's)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, err
		}
		return c, errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", machineconfig.Command, fs.Arg(0))
		return c, errUsage
	}
	r, err := machineconfig.ParseSubIDRange(subids)
	if err != nil {
		fmt.Fprintf(stderr, "%s: --subid-range: %v\n", machineconfig.Command, err)
		return c, errUsage
	}
	o.SubIDs = r
	o.NoCoreSubID = !core
	if o.Mode != machineconfig.ModeOverride && c.output == "" {
		fmt.Fprintf(stderr, "%s: image mode writes several files: -o DIR\n", machineconfig.Command)
		return c, errUsage
	}
	return c, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	c, err := parse(args, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		return 2
	}
	if c.contrib == "" {
		root, err := repo.Root()
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v (run it from the checkout or pass --contrib DIR)\n", machineconfig.Command, err)
			return 1
		}
		c.contrib = filepath.Join(root, "contrib")
	}
	for _, w := range c.opts.Warnings() {
		fmt.Fprintf(stderr, "%s: warning: %s\n", machineconfig.Command, w)
	}
	out, err := machineconfig.Generate(c.opts, os.DirFS(c.contrib))
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", machineconfig.Command, err)
		return 1
	}
	if c.opts.Mode == machineconfig.ModeOverride {
		if c.output == "" || c.output == "-" {
			if _, err := stdout.Write(out[0].Data); err != nil {
				fmt.Fprintf(stderr, "%s: %v\n", machineconfig.Command, err)
				return 1
			}
			return 0
		}
		if err := writeFile(c.output, out[0].Data); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", machineconfig.Command, err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: %s\n", c.output, out[0].What)
		return 0
	}
	if err := os.MkdirAll(c.output, 0o755); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", machineconfig.Command, err)
		return 1
	}
	for _, f := range out {
		p := filepath.Join(c.output, f.Name)
		if err := writeFile(p, f.Data); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", machineconfig.Command, err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: %s\n", p, f.What)
	}
	return 0
}

// writeFile replaces path in one rename, so an interrupted run leaves the
// old file rather than half a MachineConfig.
func writeFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
