// Command crio-userns-machineconfig writes the OpenShift MachineConfig that
// installs crio-userns on a pool's RHCOS nodes: the patched cri-o RPM through
// `rpm-ostree override replace`, /etc/subuid and /etc/subgid, and contrib/'s
// crio.conf.d drop-in, hooks.d JSON and hook policy. See
// contrib/machineconfig/README.md.
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
		fmt.Fprintf(stderr, `Usage: %s --role POOL --cri-o-rpm URL [flags]

Writes a machineconfiguration.openshift.io/v1 MachineConfig (Ignition %s) that
replaces CRI-O on the pool's RHCOS nodes with the crio-userns build
(rpm -q NEVRA || rpm-ostree override replace --reboot URL), sets /etc/subuid
and /etc/subgid, and installs contrib/'s crio.conf.d drop-in, hooks.d JSON and
hook policy as they are in the checkout. Apply it with oc apply -f.

Flags:
`, machineconfig.Command, machineconfig.IgnitionVersion)
		fs.PrintDefaults()
		fmt.Fprintf(stderr, `
Example:
  %s --role worker \
    --cri-o-rpm https://example.com/cri-o-1.36.3-990.userns.1.el9.x86_64.rpm -o mc.yaml
`, machineconfig.Command)
	}
	subids := machineconfig.DefaultSubIDRange.String()
	core := true
	fs.StringVar(&c.opts.Role, "role", "worker", "`POOL` to configure: worker, master or a custom MachineConfigPool")
	fs.StringVar(&c.opts.Name, "name", "", "metadata.name of the MachineConfig (default 99-POOL-crio-userns)")
	fs.StringVar(&c.opts.CRIORPM, "cri-o-rpm", "", "http(s) `URL` of the patched cri-o RPM, installed with rpm-ostree override replace")
	fs.StringVar(&c.opts.CRIONEVRA, "cri-o-nevra", "", "`NEVRA` of that RPM for rpm -q (default: from the URL's file name, NAME-VERSION-RELEASE.ARCH.rpm)")
	fs.StringVar(&c.opts.HookRPM, "hook-rpm", "", "http(s) `URL` of the crio-userns-hook RPM, layered with rpm-ostree install (optional)")
	fs.StringVar(&c.opts.HookNEVRA, "hook-nevra", "", "`NEVRA` of the hook RPM (default: from the URL's file name)")
	fs.StringVar(&subids, "subid-range", subids, "`START:SIZE` delegated to user "+machineconfig.SubIDOwner+" in /etc/subuid and /etc/subgid")
	fs.BoolVar(&core, "core-subid", true, "keep RHCOS's core:100000:65536 line in /etc/subuid and /etc/subgid")
	fs.BoolVar(&c.opts.CgroupV2, "cgroupv2", false, "add field report 000's cgroup v2 kernel arguments")
	fs.StringVar(&c.output, "o", "", "write to `FILE` instead of stdout")
	fs.StringVar(&c.contrib, "contrib", "", "contrib/ `DIR` to read the shipped files from (default: the checkout's, found from the working directory)")
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
	c.opts.SubIDs = r
	c.opts.NoCoreSubID = !core
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
	if c.output == "" || c.output == "-" {
		if _, err := stdout.Write(out); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", machineconfig.Command, err)
			return 1
		}
		return 0
	}
	if err := writeFile(c.output, out); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", machineconfig.Command, err)
		return 1
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
