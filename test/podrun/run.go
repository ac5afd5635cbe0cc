package podrun

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Defaults for Options left zero.
const (
	DefaultNamespace    = "test"
	DefaultTimeout      = 60 * time.Second
	DefaultSettle       = time.Second
	DefaultReady        = `^SUMMARY `
	DefaultPollInterval = 50 * time.Millisecond
	cleanupTimeout      = 60 * time.Second
)

// Options configure a run. The zero value runs the pod as written (SCC none)
// on the node bench's socket.
type Options struct {
	// Socket is the CRI socket; empty means DefaultSocket().
	Socket string
	// Namespace is used for pods whose manifest names none.
	Namespace string
	// SCC is one of SCCNames; empty means SCCNone.
	SCC string
	// UIDRange is the namespace's openshift.io/sa.scc.uid-range; zero means
	// DefaultUIDRange.
	UIDRange IDRange
	// SupplementalGroups is openshift.io/sa.scc.supplemental-groups; zero
	// means UIDRange.
	SupplementalGroups IDRange
	// Images are tried before DefaultImageRules, so they take precedence.
	Images []ImageRule
	// Exec, if set, is run with ExecSync in the first app container once it
	// is up, like `oc rsh pod/NAME CMD...`: an argument vector, no shell.
	Exec []string
	// Timeout bounds the whole run except cleanup; zero means DefaultTimeout.
	Timeout time.Duration
	// Settle is how long a running container is watched before it counts as
	// done for reporting (unless its log matched Ready first); zero means
	// DefaultSettle.
	Settle time.Duration
	// Ready is a regular expression over log lines that also makes a running
	// container done; empty means DefaultReady (a pattern that cannot match,
	// such as `$^`, turns it off).
	Ready string
	// Keep leaves the sandbox and its log directory in place.
	Keep bool
	// Kubelet configures the CRI translation; its LogDirectory is ignored
	// (podrun makes a temporary one) and a zero MemoryCapacity is read from
	// ProcRoot/meminfo.
	Kubelet KubeletConfig
	// ProcRoot is where the host's /proc is; empty means "/proc".
	ProcRoot string
	// Proc reads the node's processes when they are not this machine's (a
	// guest node's, through its agent); nil reads ProcRoot.
	Proc ProcReader
	// LogRoot is where pod log directories are made; empty means the
	// system's temporary directory. A guest node's conmon writes the logs,
	// so there it is a directory the guest shares with this machine.
	LogRoot string
	// RuntimeHandler selects the node's runtime handler (the handler of the
	// pod's RuntimeClass); empty means spec.runtimeClassName, else the
	// node's default runtime.
	RuntimeHandler string
	// PollInterval is how often running containers are sampled; zero means
	// DefaultPollInterval.
	PollInterval time.Duration
	// BeforeCreate, if set, runs before each CreateContainer with the
	// container's name: tests use it to restart the runtime between
	// RunPodSandbox and CreateContainer, as a node reboot or crash would.
	BeforeCreate func(ctx context.Context, container string) error
	// Logf, if set, receives progress messages.
	Logf func(format string, args ...any)
}

func (o Options) withDefaults() Options {
	if o.Socket == "" {
		o.Socket = DefaultSocket()
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.SCC == "" {
		o.SCC = SCCNone
	}
	if o.UIDRange.IsZero() {
		o.UIDRange = DefaultUIDRange
	}
	if o.SupplementalGroups.IsZero() {
		o.SupplementalGroups = o.UIDRange
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Settle <= 0 {
		o.Settle = DefaultSettle
	}
	if o.Ready == "" {
		o.Ready = DefaultReady
	}
	if o.ProcRoot == "" {
		o.ProcRoot = "/proc"
	}
	if o.Proc == nil {
		o.Proc = LocalProc{Root: o.ProcRoot}
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	return o
}

// imageRules are the explicit rules followed by the defaults.
func (o Options) imageRules() []ImageRule {
	return append(append([]ImageRule{}, o.Images...), DefaultImageRules...)
}

// Run admits pod under opts.SCC, runs it on the node like the kubelet, and
// tears it down again (unless opts.Keep), also after a failure or when ctx is
// cancelled. Admission rejections and CRI failures are reported in the
// Result; the error is for harness faults only: an invalid pod
// (*ManifestError), bad options, or no CRI runtime on the socket.
func Run(ctx context.Context, pod *corev1.Pod, opts Options) (*Result, error) {
	opts = opts.withDefaults()
	ready, err := regexp.Compile(opts.Ready)
	if err != nil {
		return nil, fmt.Errorf("ready pattern %q: %w", opts.Ready, err)
	}
	if errs := ValidatePod(pod); len(errs) > 0 {
		return nil, &ManifestError{Source: "pod " + pod.Name, Err: errs.ToAggregate()}
	}

	pod = pod.DeepCopy()
	ApplyAPIDefaults(pod, opts.Namespace)
	res := &Result{Pod: pod.Name, Namespace: pod.Namespace, PodUID: string(pod.UID), SCC: opts.SCC}
	rules := opts.imageRules()
	for _, list := range []struct {
		ctrs []corev1.Container
		init bool
	}{{pod.Spec.InitContainers, true}, {pod.Spec.Containers, false}} {
		for _, c := range list.ctrs {
			res.Containers = append(res.Containers, &ContainerResult{Name: c.Name, Init: list.init, Image: RewriteImage(rules, c.Image)})
		}
	}

	admitted, err := Admit(pod, opts.SCC, NamespaceRanges{UIDs: opts.UIDRange, SupplementalGroups: opts.SupplementalGroups})
	var ae *AdmissionError
	if errors.As(err, &ae) {
		res.AdmissionError = err.Error()
		opts.Logf("admission rejected the pod: %v", err)
		return res, nil
	}
	if err != nil {
		return nil, err
	}
	res.Admitted = true
	pod = admitted
	// The node runs the rewritten images; admission never looks at them.
	for i := range pod.Spec.InitContainers {
		pod.Spec.InitContainers[i].Image = res.Containers[i].Image
	}
	for i := range pod.Spec.Containers {
		pod.Spec.Containers[i].Image = res.Containers[len(pod.Spec.InitContainers)+i].Image
	}

	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	client, err := Dial(ctx, opts.Socket)
	if err != nil {
		return nil, err
	}
	defer client.Close()

	logDir, err := os.MkdirTemp(opts.LogRoot, fmt.Sprintf("podrun_%s_%s_", pod.Namespace, pod.Name))
	if err != nil {
		return nil, fmt.Errorf("creating the pod log directory: %w", err)
	}
	kc := opts.Kubelet
	kc.LogDirectory = logDir
	if kc.MemoryCapacity == 0 {
		kc.MemoryCapacity = memTotal(opts.ProcRoot)
	}

	r := &runner{opts: opts, ready: ready, client: client, pod: pod, kc: kc, res: res}
	defer r.cleanup()
	r.run(ctx)
	return res, nil
}

// runner holds the state of one Run.
type runner struct {
	opts   Options
	ready  *regexp.Regexp
	client *Client
	pod    *corev1.Pod
	kc     KubeletConfig
	res    *Result
	sbCfg  *runtimeapi.PodSandboxConfig
	// started is when RunPodSandbox was called.
	started time.Time
}

func (r *runner) run(ctx context.Context) {
	sbCfg, err := SandboxConfig(r.pod, r.kc)
	if err != nil {
		r.res.SandboxError = fmt.Sprintf("generating the sandbox config: %v", err)
		return
	}
	sbCfg.Labels[MarkerLabel] = "true"
	r.sbCfg = sbCfg
	r.opts.Logf("RunPodSandbox %s/%s", r.pod.Namespace, r.pod.Name)
	start := time.Now()
	r.started = start
	sb, err := r.client.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: sbCfg, RuntimeHandler: r.runtimeHandler()})
	r.res.Timings.RunPodSandbox = time.Since(start)
	if err != nil {
		r.res.SandboxError = err.Error()
		return
	}
	r.res.SandboxID = sb.GetPodSandboxId()

	// Init containers run one at a time to completion; the first that fails
	// stops the pod, as with restartPolicy Never.
	nInit := len(r.pod.Spec.InitContainers)
	for i := range r.pod.Spec.InitContainers {
		w := r.createAndStart(ctx, &r.pod.Spec.InitContainers[i], r.res.Containers[i])
		if w == nil {
			return
		}
		r.watch(ctx, []*watched{w}, true)
		r.finish(w)
		if c := w.cr; c.ExitCode == nil || *c.ExitCode != 0 {
			r.opts.Logf("init container %s did not complete", c.Name)
			return
		}
	}

	var ws []*watched
	for i := range r.pod.Spec.Containers {
		if w := r.createAndStart(ctx, &r.pod.Spec.Containers[i], r.res.Containers[nInit+i]); w != nil {
			ws = append(ws, w)
		}
	}
	r.watch(ctx, ws, false)
	if len(r.opts.Exec) > 0 {
		r.exec(ctx, r.res.Containers[nInit])
		// What the exec waited for (systemctl is-system-running --wait)
		// may have started processes since the last sample.
		for _, w := range ws {
			if w.cr == r.res.Containers[nInit] {
				r.sample(ctx, w, false)
			}
		}
	}
	for _, w := range ws {
		r.finish(w)
	}
}

// runtimeHandler is what the kubelet sends for the pod's RuntimeClass. A
// RuntimeClass object maps its name to a handler; podrun has no API server,
// so the class name is taken as the handler name, as OpenShift's own
// RuntimeClasses are written (name and handler alike, e.g. crun, runc).
func (r *runner) runtimeHandler() string {
	if r.opts.RuntimeHandler != "" {
		return r.opts.RuntimeHandler
	}
	if rc := r.pod.Spec.RuntimeClassName; rc != nil {
		return *rc
	}
	return ""
}

// createAndStart resolves the image, creates and starts one container, and
// takes a first sample of it. It returns nil when the container did not start.
func (r *runner) createAndStart(ctx context.Context, ctr *corev1.Container, cr *ContainerResult) *watched {
	img, err := r.client.EnsureImage(ctx, cr.Image)
	if err != nil {
		cr.CreateError = err.Error()
		return nil
	}
	info := ImageInfo{Ref: cr.Image, ID: img.GetId(), Username: img.GetUsername()}
	if img.GetUid() != nil {
		info.UID = ptr(img.GetUid().GetValue())
	}
	cfg, err := ContainerConfig(r.pod, ctr, info, r.kc)
	if err != nil {
		cr.CreateError = err.Error()
		return nil
	}
	// The kubelet creates the container's log directory
	// (BuildContainerLogsDirectory); conmon only creates the file.
	if err := os.MkdirAll(filepath.Join(r.kc.LogDirectory, ctr.Name), 0o755); err != nil {
		cr.CreateError = fmt.Sprintf("creating the container log directory: %v", err)
		return nil
	}
	if r.opts.BeforeCreate != nil {
		if err := r.opts.BeforeCreate(ctx, ctr.Name); err != nil {
			cr.CreateError = fmt.Sprintf("before CreateContainer %s: %v", ctr.Name, err)
			return nil
		}
	}
	r.opts.Logf("CreateContainer %s", ctr.Name)
	start := time.Now()
	created, err := r.client.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
		PodSandboxId:  r.res.SandboxID,
		Config:        cfg,
		SandboxConfig: r.sbCfg,
	})
	cr.Timings.CreateContainer = time.Since(start)
	if err != nil {
		cr.CreateError = err.Error()
		return nil
	}
	cr.Created, cr.ID = true, created.GetContainerId()
	w := &watched{cr: cr, logPath: filepath.Join(r.kc.LogDirectory, cfg.GetLogPath()), seen: map[int]Process{}}

	r.opts.Logf("StartContainer %s", ctr.Name)
	start = time.Now()
	_, err = r.client.Runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: cr.ID})
	cr.Timings.StartContainer = time.Since(start)
	if err != nil {
		cr.StartError = err.Error()
		r.finish(w)
		return nil
	}
	cr.Started = true
	w.startedAt = time.Now()
	r.sample(ctx, w, false)
	return w
}

// exec runs the --exec command in cr, like `oc rsh`.
func (r *runner) exec(ctx context.Context, cr *ContainerResult) {
	e := &ExecResult{Cmd: r.opts.Exec}
	cr.Exec = e
	if !cr.Started {
		e.Error = "the container did not start"
		return
	}
	st, _, err := r.client.ContainerStatus(ctx, cr.ID, false)
	if err != nil {
		e.Error = fmt.Sprintf("container status: %v", err)
		return
	}
	if st.GetState() != runtimeapi.ContainerState_CONTAINER_RUNNING {
		e.Error = fmt.Sprintf("the container is not running (%s)", stateName(st.GetState()))
		return
	}
	timeout := int64(1)
	if dl, ok := ctx.Deadline(); ok {
		timeout = max(1, int64(time.Until(dl).Seconds()))
	}
	r.opts.Logf("ExecSync %s %q", cr.Name, r.opts.Exec)
	resp, err := r.client.Runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: cr.ID, Cmd: r.opts.Exec, Timeout: timeout})
	if err != nil {
		e.Error = err.Error()
		return
	}
	e.Stdout, e.Stderr = string(resp.GetStdout()), string(resp.GetStderr())
	e.ExitCode = ptr(resp.GetExitCode())
	e.Done = time.Since(r.started)
}

// cleanup removes the sandbox (and everything left by a failed
// RunPodSandbox, found by the pod UID label) and the log directory, on a
// fresh context so that a timeout or interrupt does not prevent it.
func (r *runner) cleanup() {
	if r.opts.Keep {
		r.res.LogDirectory = r.kc.LogDirectory
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	var errs []error
	if r.res.SandboxID != "" {
		r.opts.Logf("StopPodSandbox+RemovePodSandbox %s", r.res.SandboxID)
		errs = append(errs, r.client.StopAndRemovePod(ctx, r.res.SandboxID))
	}
	if _, err := r.client.RemovePods(ctx, map[string]string{LabelPodUID: string(r.pod.UID)}); err != nil {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(r.kc.LogDirectory); err != nil {
		errs = append(errs, fmt.Errorf("removing the log directory: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		r.res.CleanupError = err.Error()
	}
}

// memTotal reads the node's memory from procRoot/meminfo, or 0.
func memTotal(procRoot string) int64 {
	f, err := os.Open(filepath.Join(procRoot, "meminfo"))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err == nil {
				return kb * 1024
			}
		}
	}
	return 0
}

func stateName(s runtimeapi.ContainerState) string {
	switch s {
	case runtimeapi.ContainerState_CONTAINER_CREATED:
		return "created"
	case runtimeapi.ContainerState_CONTAINER_RUNNING:
		return "running"
	case runtimeapi.ContainerState_CONTAINER_EXITED:
		return "exited"
	default:
		return "unknown"
	}
}
