package podrun

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const unmapped = "container create failed: time=\"2026-11-23T13:42:33Z\" level=error msg=\"runc create failed: unable to start container process: unable to setup user: cannot set uid to unmapped user in user namespace\""

func fakeOptions(sock string) Options {
	return Options{Socket: sock, SCC: SCCRestricted, Settle: 100 * time.Millisecond, Timeout: 10 * time.Second, PollInterval: 10 * time.Millisecond}
}

func podWith(t *testing.T, spec string) string {
	t.Helper()
	return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: fedora\n  annotations:\n    io.openshift.userns: \"true\"\nspec:\n" + spec
}

func TestRunAgainstFakeCRI(t *testing.T) {
	tests := []struct {
		name    string
		spec    string
		opts    func(*Options)
		sbErr   error
		check   func(t *testing.T, f *fakeCRI, r *Result)
		wantOK  bool
		created int // CreateContainer calls expected
	}{{
		name: "a running container is sampled, exec'd and cleaned up",
		spec: `  securityContext:
    runAsUser: 1000650000
  containers:
  - name: fedora
    image: registry.fedoraproject.org/fedora:35-x86_64
    command: ["run", "hello", "SUMMARY switched=1/5"]
`,
		opts:    func(o *Options) { o.Exec = []string{"cat", "/proc/self/uid_map"}; o.Settle = time.Minute },
		wantOK:  true,
		created: 1,
		check: func(t *testing.T, f *fakeCRI, r *Result) {
			c := r.Containers[0]
			if !c.Created || !c.Started || c.State != "running" || c.ExitCode != nil {
				t.Errorf("container = %+v", c)
			}
			if !c.Ready {
				t.Error("the SUMMARY line did not make the container ready (the settle time is a minute)")
			}
			if c.Image != "localhost/crio-userns/fedora-standin:latest" {
				t.Errorf("image = %q", c.Image)
			}
			if len(c.Processes) == 0 || c.Processes[0].HostPID != os.Getpid() || len(c.UIDMap) == 0 || c.CapBnd == "" {
				t.Errorf("no /proc sample of the (fake) container's pid: %+v", c)
			}
			if c.Log != "hello\nSUMMARY switched=1/5\n" {
				t.Errorf("log = %q", c.Log)
			}
			if e := c.Exec; e == nil || e.Stdout != "ran [\"cat\" \"/proc/self/uid_map\"]\n" || e.ExitCode == nil || *e.ExitCode != 3 {
				t.Errorf("exec = %+v", e)
			}
			req := f.created[0]
			if req.GetSandboxConfig().GetLabels()[MarkerLabel] != "true" {
				t.Errorf("sandbox lacks the podrun marker label: %v", req.GetSandboxConfig().GetLabels())
			}
			if got := req.GetSandboxConfig().GetLinux().GetSecurityContext().GetRunAsUser().GetValue(); got != 1000650000 {
				t.Errorf("sandbox runAsUser = %d", got)
			}
			if img := req.GetConfig().GetImage(); img.GetUserSpecifiedImage() != c.Image || img.GetImage() != "sha256:"+c.Image {
				t.Errorf("image spec = %v", img)
			}
			if len(f.stopped) != 1 || f.stopped[0] != c.ID {
				t.Errorf("containers stopped before the sandbox: %v, want [%s]", f.stopped, c.ID)
			}
		},
	}, {
		name: "CreateContainer's error is kept verbatim",
		spec: `  containers:
  - name: fedora
    image: registry.fedoraproject.org/fedora:35-x86_64
    command: ["fail-create", "` + strings.ReplaceAll(unmapped, `"`, `\"`) + `"]
`,
		created: 1,
		check: func(t *testing.T, f *fakeCRI, r *Result) {
			c := r.Containers[0]
			if c.Created || !strings.Contains(c.CreateError, "cannot set uid to unmapped user in user namespace") ||
				!strings.Contains(c.CreateError, "rpc error: code = Unknown desc = "+unmapped) {
				t.Errorf("container = %+v", c)
			}
		},
	}, {
		name: "init containers run first and in order",
		spec: `  initContainers:
  - name: one
    image: registry.fedoraproject.org/fedora
    command: ["exit", "0", "one done"]
  - name: two
    image: registry.fedoraproject.org/fedora
    command: ["exit", "0"]
  containers:
  - name: app
    image: registry.fedoraproject.org/fedora
    command: ["exit", "0", "app done"]
`,
		wantOK:  true,
		created: 3,
		check: func(t *testing.T, f *fakeCRI, r *Result) {
			var order []string
			for _, req := range f.created {
				order = append(order, req.GetConfig().GetMetadata().GetName())
			}
			if strings.Join(order, ",") != "one,two,app" {
				t.Errorf("creation order %v", order)
			}
			if !r.Containers[0].Init || !r.Containers[1].Init || r.Containers[2].Init {
				t.Errorf("init flags wrong: %+v", r.Containers)
			}
			for _, c := range r.Containers {
				if c.ExitCode == nil || *c.ExitCode != 0 || c.State != "exited" {
					t.Errorf("container %s: %+v", c.Name, c)
				}
			}
			if r.Containers[0].Log != "one done\n" || r.Containers[2].Log != "app done\n" {
				t.Errorf("logs %q %q", r.Containers[0].Log, r.Containers[2].Log)
			}
		},
	}, {
		name: "a failing init container stops the pod",
		spec: `  initContainers:
  - name: init
    image: registry.fedoraproject.org/fedora
    command: ["exit", "1"]
  containers:
  - name: app
    image: registry.fedoraproject.org/fedora
    command: ["run"]
`,
		created: 1,
		check: func(t *testing.T, f *fakeCRI, r *Result) {
			if c := r.Containers[0]; c.ExitCode == nil || *c.ExitCode != 1 {
				t.Errorf("init = %+v", c)
			}
			if c := r.Containers[1]; c.Created || c.CreateError != "" {
				t.Errorf("app = %+v, want untouched", c)
			}
		},
	}, {
		name: "admission rejection never reaches the node",
		spec: `  containers:
  - name: fedora
    image: registry.fedoraproject.org/fedora
    securityContext:
      runAsUser: 0
`,
		check: func(t *testing.T, f *fakeCRI, r *Result) {
			if r.Admitted || !strings.Contains(r.AdmissionError, "spec.containers[0].securityContext.runAsUser: Invalid value: 0: must be in the ranges: [1000650000, 1000659999]") {
				t.Errorf("result = %+v", r)
			}
			if r.SandboxID != "" || len(f.removed) != 0 {
				t.Errorf("a sandbox was made")
			}
		},
	}, {
		name:  "RunPodSandbox's error is kept verbatim",
		spec:  "  containers:\n  - name: fedora\n    image: registry.fedoraproject.org/fedora\n",
		sbErr: status.Error(codes.Unknown, `creating pod sandbox with name "k8s_fedora": unable to pull image`),
		check: func(t *testing.T, f *fakeCRI, r *Result) {
			if r.SandboxError != `rpc error: code = Unknown desc = creating pod sandbox with name "k8s_fedora": unable to pull image` {
				t.Errorf("sandbox error = %q", r.SandboxError)
			}
		},
	}, {
		name: "a missing image is pulled, a pull failure is a create error",
		spec: `  containers:
  - name: pulled
    image: quay.io/some/image:1
    command: ["exit", "0"]
  - name: unpullable
    image: missing/image
`,
		created: 1,
		check: func(t *testing.T, f *fakeCRI, r *Result) {
			if len(f.pulled) != 1 || f.pulled[0] != "quay.io/some/image:1" || !r.Containers[0].Started {
				t.Errorf("pulled %v, first container %+v", f.pulled, r.Containers[0])
			}
			if !strings.Contains(r.Containers[1].CreateError, "pulling missing/image") {
				t.Errorf("second container %+v", r.Containers[1])
			}
		},
	}, {
		name:    "StartContainer's error",
		spec:    "  containers:\n  - name: fedora\n    image: registry.fedoraproject.org/fedora\n    command: [\"fail-start\", \"boom\"]\n",
		created: 1,
		check: func(t *testing.T, f *fakeCRI, r *Result) {
			if c := r.Containers[0]; !c.Created || c.Started || !strings.Contains(c.StartError, "boom") {
				t.Errorf("container = %+v", c)
			}
		},
	}, {
		name:    "the timeout aborts waiting but not cleanup",
		spec:    "  initContainers:\n  - name: forever\n    image: registry.fedoraproject.org/fedora\n    command: [\"run\"]\n  containers:\n  - name: app\n    image: registry.fedoraproject.org/fedora\n",
		opts:    func(o *Options) { o.Timeout = 300 * time.Millisecond },
		created: 1,
		check: func(t *testing.T, f *fakeCRI, r *Result) {
			if !strings.Contains(r.Aborted, "timeout") || r.Containers[0].State != "running" || r.Containers[1].Created {
				t.Errorf("result %+v, containers %+v %+v", r, r.Containers[0], r.Containers[1])
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, sock := startFakeCRI(t)
			f.sandboxErr = tt.sbErr
			opts := fakeOptions(sock)
			if tt.opts != nil {
				tt.opts(&opts)
			}
			res, err := Run(context.Background(), mustPod(t, podWith(t, tt.spec)), opts)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.OK() != tt.wantOK {
				t.Errorf("OK() = %v, want %v; result %+v", res.OK(), tt.wantOK, res)
			}
			if len(f.created) != tt.created {
				t.Errorf("%d CreateContainer calls, want %d", len(f.created), tt.created)
			}
			if len(f.sandboxes) != 0 {
				t.Errorf("sandboxes left behind: %v", f.sandboxes)
			}
			if res.CleanupError != "" {
				t.Errorf("cleanup error: %s", res.CleanupError)
			}
			for _, req := range f.created {
				if dir := req.GetSandboxConfig().GetLogDirectory(); dir != "" {
					if _, err := os.Stat(dir); !os.IsNotExist(err) {
						t.Errorf("log directory %s left behind (%v)", dir, err)
					}
				}
			}
			tt.check(t, f, res)
		})
	}
}

func TestRunKeep(t *testing.T) {
	f, sock := startFakeCRI(t)
	opts := fakeOptions(sock)
	opts.Keep = true
	res, err := Run(context.Background(), mustPod(t, podWith(t, "  containers:\n  - name: fedora\n    image: registry.fedoraproject.org/fedora\n    command: [\"run\", \"x\"]\n")), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(res.LogDirectory)
	if len(f.sandboxes) != 1 || res.LogDirectory == "" {
		t.Fatalf("with Keep: %d sandboxes, log directory %q", len(f.sandboxes), res.LogDirectory)
	}
	if _, err := os.Stat(res.LogDirectory); err != nil {
		t.Errorf("kept log directory: %v", err)
	}
	// What a test's cleanup would do.
	c, err := Dial(context.Background(), sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	removed, err := c.RemovePods(context.Background(), map[string]string{MarkerLabel: "true"})
	if err != nil || len(removed) != 1 || len(f.sandboxes) != 0 {
		t.Errorf("RemovePods = %v, %v; %d sandboxes left", removed, err, len(f.sandboxes))
	}
}

func TestRunHarnessErrors(t *testing.T) {
	pod := mustPod(t, podWith(t, "  containers:\n  - name: fedora\n    image: i\n"))
	if _, err := Run(context.Background(), pod, Options{Socket: "/nonexistent/crio.sock"}); err == nil || !strings.Contains(err.Error(), "/nonexistent/crio.sock") {
		t.Errorf("Run with no socket: %v", err)
	}
	bad := pod.DeepCopy()
	bad.Spec.Containers[0].Image = ""
	if _, err := Run(context.Background(), bad, Options{}); !IsManifestError(err) {
		t.Errorf("Run with an invalid pod: %v, want a *ManifestError", err)
	}
	if _, err := Run(context.Background(), pod, Options{Ready: "("}); err == nil {
		t.Error("Run with a bad ready pattern: no error")
	}
}

func TestDefaultSocket(t *testing.T) {
	t.Setenv(StateEnv, "/srv/node")
	if got := DefaultSocket(); got != "/srv/node/run/crio.sock" {
		t.Errorf("with %s=/srv/node: %s", StateEnv, got)
	}
	t.Setenv(StateEnv, "")
	// The test runs in test/podrun; the repository root is two up.
	if got := DefaultSocket(); !strings.HasSuffix(got, "/_output/node/run/crio.sock") || strings.Contains(got, "test/podrun") {
		t.Errorf("default socket %s", got)
	}
}
