// Command podrun runs one Pod manifest against a CRI-O node the way OpenShift
// would: SCC admission, then the kubelet's CRI calls, then a report of what
// the node did (ID maps, capabilities and host UIDs of the container's
// processes, logs, errors), then cleanup.
//
//	podrun [flags] POD.yaml
//	podrun --cleanup
//
// Exit status: 0 when the pod was admitted and every container was created,
// started and (if it exited) exited 0; 1 otherwise, or when podrun could not
// reach the node; 2 on bad usage or an unreadable or invalid manifest.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/crio-userns/crio-userns/test/podrun"
	"github.com/crio-userns/crio-userns/test/vm"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// imageFlags collects repeated --image FROM=TO flags.
type imageFlags []podrun.ImageRule

func (f *imageFlags) String() string {
	parts := make([]string, len(*f))
	for i, r := range *f {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}

func (f *imageFlags) Set(s string) error {
	r, err := podrun.ParseImageRule(s)
	if err != nil {
		return err
	}
	*f = append(*f, r)
	return nil
}

// rangeFlag is a START/SIZE ID range flag.
type rangeFlag struct {
	r   podrun.IDRange
	set bool
}

func (f *rangeFlag) String() string {
	if f.r.IsZero() {
		return ""
	}
	return f.r.String()
}

func (f *rangeFlag) Set(s string) error {
	r, err := podrun.ParseIDRange(s)
	if err != nil {
		return err
	}
	f.r, f.set = r, true
	return nil
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("podrun", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: podrun [flags] POD.yaml\n       podrun [--socket PATH] --cleanup\n\nflags:\n")
		fs.PrintDefaults()
	}
	var (
		socket     = fs.String("socket", podrun.DefaultSocket(), "CRI socket of the node ($"+podrun.StateEnv+"/run/crio.sock)")
		scc        = fs.String("scc", podrun.SCCNone, "SCC to admit the pod with: "+strings.Join(podrun.SCCNames, "|"))
		namespace  = fs.String("namespace", podrun.DefaultNamespace, "namespace for a manifest that names none")
		uidRange   = rangeFlag{r: podrun.DefaultUIDRange}
		groups     rangeFlag
		images     imageFlags
		execCmd    = fs.String("exec", "", "`CMD` to run in the first app container once it runs, like oc rsh pod/NAME CMD (split on blanks, no shell)")
		timeout    = fs.Duration("timeout", podrun.DefaultTimeout, "time limit for the whole run (cleanup excepted)")
		settle     = fs.Duration("settle", podrun.DefaultSettle, "how long to watch a running container before reporting it")
		ready      = fs.String("ready", podrun.DefaultReady, "log line pattern that makes a running container ready to report")
		keep       = fs.Bool("keep", false, "leave the pod and its logs in place")
		asJSON     = fs.Bool("json", false, "print the result as one JSON object")
		usernsGate = fs.Bool("userns-feature-gate", false, "emulate a kubelet with UserNamespacesSupport on (pods without hostUsers: false get user namespace mode NODE)")
		verbose    = fs.Bool("v", false, "log progress to stderr")
		handler    = fs.String("runtime-handler", "", "runtime handler for the pod, as its RuntimeClass gives it (default: spec.runtimeClassName, else the node's default)")
		cleanup    = fs.Bool("cleanup", false, "remove every pod podrun left on the node (label "+podrun.MarkerLabel+"=true) and exit")
	)
	fs.Var(&uidRange, "uid-range", "the namespace's openshift.io/sa.scc.uid-range, `START/SIZE`")
	fs.Var(&groups, "supplemental-groups", "the namespace's openshift.io/sa.scc.supplemental-groups, `START/SIZE` (default: --uid-range)")
	fs.Var(&images, "image", "rewrite image `FROM=TO`: FROM may end with *; repeatable; tried before the defaults "+defaultRules())

	// Flags may come before or after the manifest.
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if !slices.Contains(podrun.SCCNames, *scc) {
		fmt.Fprintf(stderr, "podrun: --scc %q: want one of %s\n", *scc, strings.Join(podrun.SCCNames, ", "))
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *cleanup {
		if len(positional) > 0 {
			fmt.Fprintln(stderr, "podrun: --cleanup takes no manifest")
			return 2
		}
		return removeAll(ctx, *socket, stdout, stderr)
	}
	if len(positional) != 1 {
		fs.Usage()
		return 2
	}

	pod, err := podrun.LoadManifest(positional[0])
	if err != nil {
		fmt.Fprintf(stderr, "podrun: %v\n", err)
		return 2
	}
	opts := podrun.Options{
		Socket:    *socket,
		Namespace: *namespace,
		SCC:       *scc,
		UIDRange:  uidRange.r,
		Images:    images,
		Exec:      strings.Fields(*execCmd),
		Timeout:   *timeout,
		Settle:    *settle,
		Ready:     *ready,
		Keep:      *keep,
		Kubelet:   podrun.KubeletConfig{UserNamespacesSupport: *usernsGate},

		RuntimeHandler: *handler,
	}
	// A guest node's PIDs are the guest's: read its /proc through its agent,
	// whose socket sits beside the forwarded CRI socket. Its conmon writes the pods' logs, into a directory shared with us.
	if agent := vm.AgentBeside(*socket); agent != nil {
		opts.Proc = agent
		opts.LogRoot = vm.PodLogRootBeside(*socket)
	}
	if groups.set {
		opts.SupplementalGroups = groups.r
	}
	if *verbose {
		opts.Logf = func(format string, args ...any) {
			fmt.Fprintf(stderr, "podrun: %s "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
		}
	}

	res, err := podrun.Run(ctx, pod, opts)
	if err != nil {
		fmt.Fprintf(stderr, "podrun: %v\n", err)
		if podrun.IsManifestError(err) {
			return 2
		}
		return 1
	}
	if *asJSON {
		out, err := res.JSON()
		if err != nil {
			fmt.Fprintf(stderr, "podrun: rendering the result: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s\n", out)
	} else if err := res.WriteText(stdout); err != nil {
		fmt.Fprintf(stderr, "podrun: %v\n", err)
		return 1
	}
	return res.ExitCode()
}

func removeAll(ctx context.Context, socket string, stdout, stderr io.Writer) int {
	c, err := podrun.Dial(ctx, socket)
	if err != nil {
		fmt.Fprintf(stderr, "podrun: %v\n", err)
		return 1
	}
	defer c.Close()
	removed, err := c.RemovePods(ctx, map[string]string{podrun.MarkerLabel: "true"})
	for _, id := range removed {
		fmt.Fprintf(stdout, "removed pod sandbox %s\n", id)
	}
	if err != nil {
		fmt.Fprintf(stderr, "podrun: %v\n", err)
		return 1
	}
	return 0
}

func defaultRules() string {
	parts := make([]string, len(podrun.DefaultImageRules))
	for i, r := range podrun.DefaultImageRules {
		parts[i] = r.String()
	}
	return strings.Join(parts, ", ")
}
