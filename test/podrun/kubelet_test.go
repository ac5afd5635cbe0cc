package podrun

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

const testUID = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"

// translate loads a manifest, admits it and translates it as Run does,
// without a node: images resolve to a fixed ID and have no USER.
func translate(t *testing.T, pod *corev1.Pod, scc string, kc KubeletConfig) (*runtimeapi.PodSandboxConfig, []*runtimeapi.ContainerConfig) {
	t.Helper()
	pod = pod.DeepCopy()
	pod.UID = testUID
	ApplyAPIDefaults(pod, DefaultNamespace)
	admitted, err := Admit(pod, scc, NamespaceRanges{UIDs: DefaultUIDRange})
	if err != nil {
		t.Fatalf("Admit: %v", err)
	}
	if kc.LogDirectory == "" {
		kc.LogDirectory = "/var/log/pods/test_pod"
	}
	sb, err := SandboxConfig(admitted, kc)
	if err != nil {
		t.Fatalf("SandboxConfig: %v", err)
	}
	var ctrs []*runtimeapi.ContainerConfig
	for _, c := range append(admitted.Spec.InitContainers, admitted.Spec.Containers...) {
		ref := RewriteImage(DefaultImageRules, c.Image)
		cfg, err := ContainerConfig(admitted, &c, ImageInfo{Ref: ref, ID: "sha256:0123"}, kc)
		if err != nil {
			t.Fatalf("ContainerConfig(%s): %v", c.Name, err)
		}
		ctrs = append(ctrs, cfg)
	}
	return sb, ctrs
}

func loadExample(t *testing.T, name string) *corev1.Pod {
	t.Helper()
	pod, err := LoadManifest(filepath.Join(examplesDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return pod
}

func int64Value(v *runtimeapi.Int64Value) any {
	if v == nil {
		return nil
	}
	return v.Value
}

// TestTranslateFieldReports checks the CRI requests for the field reports'
// manifests: above all, which runAsUser reaches the sandbox (only the pod's)
// and which reaches the container (the effective one).
func TestTranslateFieldReports(t *testing.T) {
	restrictedDrop := []string{"KILL", "MKNOD", "SETGID", "SETUID"}
	tests := []struct {
		file, scc        string
		sandboxRunAsUser any
		sandboxGroups    []int64
		sysctls          map[string]string
		ctrRunAsUser     any
		ctrRunAsGroup    any
		drop             []string
		command          []string
		image            string
	}{{
		file: "000-fedora-map-to-root.yaml", scc: SCCRestricted,
		sandboxRunAsUser: int64(1000650000), sandboxGroups: []int64{1000650000},
		ctrRunAsUser: int64(1000650000), drop: restrictedDrop,
		command: []string{"sleep", "3600"}, image: "localhost/crio-userns/fedora-standin:latest",
	}, {
		// The defect: SCC defaulting reaches only the container.
		file: "000-fedora-map-to-root-no-runasuser.yaml", scc: SCCRestricted,
		sandboxRunAsUser: nil, sandboxGroups: []int64{1000650000},
		ctrRunAsUser: int64(1000650000), drop: restrictedDrop,
		command: []string{"sleep", "3600"}, image: "localhost/crio-userns/fedora-standin:latest",
	}, {
		file: "000-fedora-auto.yaml", scc: SCCRestricted,
		sandboxRunAsUser: nil, sandboxGroups: []int64{1000650000},
		ctrRunAsUser: int64(1000650000), drop: restrictedDrop,
		command: []string{"sleep", "3600"}, image: "localhost/crio-userns/fedora-standin:latest",
	}, {
		file: "000-fedora-runasuser-0.yaml", scc: SCCAnyUID,
		ctrRunAsUser: int64(0), drop: []string{"MKNOD"},
		command: []string{"sleep", "3600"}, image: "localhost/crio-userns/fedora-standin:latest",
	}, {
		file: "004-multiuser-test.yaml", scc: SCCAnyUID,
		sysctls:      map[string]string{"net.ipv4.ping_group_range": "0 65535"},
		ctrRunAsUser: int64(0), ctrRunAsGroup: int64(0), drop: []string{"MKNOD"},
		image: "localhost/crio-userns/usernstest:latest",
	}, {
		// As written, with no SCC: no capabilities requested at all.
		file: "004-multiuser-test.yaml", scc: SCCNone,
		sysctls:      map[string]string{"net.ipv4.ping_group_range": "0 65535"},
		ctrRunAsUser: int64(0), ctrRunAsGroup: int64(0),
		image: "localhost/crio-userns/usernstest:latest",
	}}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.scc, func(t *testing.T) {
			pod := loadExample(t, tt.file)
			sb, ctrs := translate(t, pod, tt.scc, KubeletConfig{})

			// Sandbox.
			if m := sb.GetMetadata(); m.Name != pod.Name || m.Namespace != DefaultNamespace || m.Uid != testUID || m.Attempt != 0 {
				t.Errorf("sandbox metadata = %+v", m)
			}
			wantLabels := map[string]string{LabelPodName: pod.Name, LabelPodNamespace: DefaultNamespace, LabelPodUID: testUID}
			if !reflect.DeepEqual(sb.Labels, wantLabels) {
				t.Errorf("sandbox labels = %v, want %v", sb.Labels, wantLabels)
			}
			for k, v := range pod.Annotations {
				if k != ValidatedSCCAnnotation && sb.Annotations[k] != v {
					t.Errorf("sandbox annotation %s = %q, want %q", k, sb.Annotations[k], v)
				}
			}
			if tt.scc != SCCNone && sb.Annotations[ValidatedSCCAnnotation] != tt.scc {
				t.Errorf("sandbox annotation %s = %q, want %q", ValidatedSCCAnnotation, sb.Annotations[ValidatedSCCAnnotation], tt.scc)
			}
			if sb.Hostname != pod.Name || sb.LogDirectory != "/var/log/pods/test_pod" {
				t.Errorf("sandbox hostname %q, log directory %q", sb.Hostname, sb.LogDirectory)
			}
			ssc := sb.GetLinux().GetSecurityContext()
			if got := int64Value(ssc.GetRunAsUser()); got != tt.sandboxRunAsUser {
				t.Errorf("sandbox runAsUser = %v, want %v", got, tt.sandboxRunAsUser)
			}
			if !reflect.DeepEqual(ssc.GetSupplementalGroups(), tt.sandboxGroups) {
				t.Errorf("sandbox supplemental groups = %v, want %v", ssc.GetSupplementalGroups(), tt.sandboxGroups)
			}
			wantNS := &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_POD, Pid: runtimeapi.NamespaceMode_CONTAINER, Ipc: runtimeapi.NamespaceMode_POD}
			if ns := ssc.GetNamespaceOptions(); ns.String() != wantNS.String() {
				t.Errorf("sandbox namespaces = %v, want %v", ns, wantNS)
			}
			if ssc.GetSeccomp().GetProfileType() != runtimeapi.SecurityProfile_RuntimeDefault || ssc.GetPrivileged() {
				t.Errorf("sandbox seccomp %v privileged %v", ssc.GetSeccomp(), ssc.GetPrivileged())
			}
			wantSysctls := tt.sysctls
			if wantSysctls == nil {
				wantSysctls = map[string]string{}
			}
			if !reflect.DeepEqual(sb.GetLinux().GetSysctls(), wantSysctls) {
				t.Errorf("sandbox sysctls = %v, want %v", sb.GetLinux().GetSysctls(), wantSysctls)
			}

			// The one container.
			if len(ctrs) != 1 {
				t.Fatalf("%d container configs, want 1", len(ctrs))
			}
			c := ctrs[0]
			name := pod.Spec.Containers[0].Name
			if c.GetMetadata().GetName() != name || c.GetLogPath() != name+"/0.log" {
				t.Errorf("container metadata %v, log path %q", c.GetMetadata(), c.GetLogPath())
			}
			if c.GetImage().GetImage() != "sha256:0123" || c.GetImage().GetUserSpecifiedImage() != tt.image {
				t.Errorf("container image = %v, want ID sha256:0123, user specified %s", c.GetImage(), tt.image)
			}
			if !reflect.DeepEqual(c.GetCommand(), tt.command) {
				t.Errorf("container command = %q, want %q", c.GetCommand(), tt.command)
			}
			wantCtrLabels := map[string]string{LabelPodName: pod.Name, LabelPodNamespace: DefaultNamespace, LabelPodUID: testUID, LabelContainerName: name}
			if !reflect.DeepEqual(c.GetLabels(), wantCtrLabels) {
				t.Errorf("container labels = %v", c.GetLabels())
			}
			for _, k := range []string{annotationContainerHash, annotationRestartCount, annotationTerminationMessagePath, annotationTerminationGracePeriod} {
				if c.GetAnnotations()[k] == "" {
					t.Errorf("container annotation %s missing", k)
				}
			}
			csc := c.GetLinux().GetSecurityContext()
			if got := int64Value(csc.GetRunAsUser()); got != tt.ctrRunAsUser {
				t.Errorf("container runAsUser = %v, want %v", got, tt.ctrRunAsUser)
			}
			if got := int64Value(csc.GetRunAsGroup()); got != tt.ctrRunAsGroup {
				t.Errorf("container runAsGroup = %v, want %v", got, tt.ctrRunAsGroup)
			}
			if got := csc.GetCapabilities().GetDropCapabilities(); !reflect.DeepEqual(got, tt.drop) {
				t.Errorf("container drop = %v, want %v", got, tt.drop)
			}
			if len(csc.GetCapabilities().GetAddCapabilities()) != 0 || csc.GetPrivileged() || csc.GetNoNewPrivs() {
				t.Errorf("container add %v privileged %v noNewPrivs %v", csc.GetCapabilities().GetAddCapabilities(), csc.GetPrivileged(), csc.GetNoNewPrivs())
			}
			if ns := csc.GetNamespaceOptions(); ns.String() != wantNS.String() {
				t.Errorf("container namespaces = %v, want %v", ns, wantNS)
			}
			if !reflect.DeepEqual(csc.GetSupplementalGroups(), tt.sandboxGroups) {
				t.Errorf("container supplemental groups = %v, want %v", csc.GetSupplementalGroups(), tt.sandboxGroups)
			}
			if csc.GetSeccomp().GetProfileType() != runtimeapi.SecurityProfile_Unconfined {
				t.Errorf("container seccomp = %v, want Unconfined", csc.GetSeccomp())
			}
			if len(csc.GetMaskedPaths()) == 0 || len(csc.GetReadonlyPaths()) == 0 {
				t.Errorf("container has no masked/readonly paths")
			}
			if r := c.GetLinux().GetResources(); r.GetOomScoreAdj() != 1000 || r.GetCpuShares() != 2 {
				t.Errorf("BestEffort resources = %v, want oom_score_adj 1000, 2 shares", r)
			}
		})
	}
}

func TestTranslateRestrictedV2(t *testing.T) {
	_, ctrs := translate(t, loadExample(t, "000-fedora-map-to-root.yaml"), SCCRestrictedV2, KubeletConfig{})
	csc := ctrs[0].GetLinux().GetSecurityContext()
	if !csc.GetNoNewPrivs() {
		t.Error("allowPrivilegeEscalation: false did not become no_new_privs")
	}
	if got := csc.GetCapabilities().GetDropCapabilities(); !reflect.DeepEqual(got, []string{"ALL"}) {
		t.Errorf("drop = %v, want [ALL]", got)
	}
	if csc.GetSeccomp().GetProfileType() != runtimeapi.SecurityProfile_RuntimeDefault {
		t.Errorf("seccomp = %v, want RuntimeDefault from the pod", csc.GetSeccomp())
	}
}

func TestTranslateUserNamespaces(t *testing.T) {
	base := mustPod(t, podHeader+"spec:\n  containers:\n  - name: c\n    image: i\n")
	hostUsersFalse := base.DeepCopy()
	hostUsersFalse.Spec.HostUsers = ptr(false)

	t.Run("gate off, hostUsers unset: no userns options (OpenShift 4.10's kubelet)", func(t *testing.T) {
		sb, c := translate(t, base, SCCNone, KubeletConfig{})
		if u := sb.GetLinux().GetSecurityContext().GetNamespaceOptions().GetUsernsOptions(); u != nil {
			t.Errorf("sandbox userns = %v, want none", u)
		}
		if u := c[0].GetLinux().GetSecurityContext().GetNamespaceOptions().GetUsernsOptions(); u != nil {
			t.Errorf("container userns = %v, want none", u)
		}
	})
	t.Run("gate on, hostUsers unset: NODE", func(t *testing.T) {
		sb, _ := translate(t, base, SCCNone, KubeletConfig{UserNamespacesSupport: true})
		if u := sb.GetLinux().GetSecurityContext().GetNamespaceOptions().GetUsernsOptions(); u.GetMode() != runtimeapi.NamespaceMode_NODE {
			t.Errorf("sandbox userns = %v, want mode NODE", u)
		}
	})
	t.Run("hostUsers false: one 65536 block, same in sandbox and container", func(t *testing.T) {
		r := UsernsRange{First: 1 << 20, Blocks: 4}
		sb, c := translate(t, hostUsersFalse, SCCNone, KubeletConfig{Userns: r})
		su := sb.GetLinux().GetSecurityContext().GetNamespaceOptions().GetUsernsOptions()
		cu := c[0].GetLinux().GetSecurityContext().GetNamespaceOptions().GetUsernsOptions()
		if su.GetMode() != runtimeapi.NamespaceMode_POD || su.String() != cu.String() {
			t.Fatalf("sandbox userns %v, container userns %v", su, cu)
		}
		for _, m := range [][]*runtimeapi.IDMapping{su.GetUids(), su.GetGids()} {
			if len(m) != 1 || m[0].ContainerId != 0 || m[0].Length != UsernsBlockSize ||
				m[0].HostId%UsernsBlockSize != 0 || m[0].HostId < r.First || m[0].HostId >= r.First+r.Blocks*UsernsBlockSize {
				t.Errorf("mapping %v is not one 65536 block of the range", m)
			}
		}
	})
	t.Run("hostUsers false, default range: the kubelet's built-in default", func(t *testing.T) {
		// getKubeletMappings without a "kubelet" subid entry: first ID 1<<16,
		// length 1<<32 - 1<<16.
		if DefaultUsernsRange.First != 65536 || uint64(DefaultUsernsRange.First)+uint64(DefaultUsernsRange.Blocks)*UsernsBlockSize != 1<<32 {
			t.Fatalf("DefaultUsernsRange = %+v, want the kubelet's 65536 + (2^32 - 65536)", DefaultUsernsRange)
		}
		if err := DefaultUsernsRange.validate(); err != nil {
			t.Fatal(err)
		}
		sb, _ := translate(t, hostUsersFalse, SCCNone, KubeletConfig{})
		m := sb.GetLinux().GetSecurityContext().GetNamespaceOptions().GetUsernsOptions().GetUids()
		if len(m) != 1 || m[0].ContainerId != 0 || m[0].Length != UsernsBlockSize || m[0].HostId%UsernsBlockSize != 0 || m[0].HostId < 1<<16 {
			t.Errorf("mapping %v is not one 65536 block of the default range", m)
		}
	})
	t.Run("bad range", func(t *testing.T) {
		pod := hostUsersFalse.DeepCopy()
		pod.UID = testUID
		ApplyAPIDefaults(pod, DefaultNamespace)
		if _, err := SandboxConfig(pod, KubeletConfig{Userns: UsernsRange{First: 12345, Blocks: 1}}); err == nil {
			t.Error("SandboxConfig with a misaligned userns range: no error")
		}
	})
}

func TestContainerConfigImageUserAndRunAsNonRoot(t *testing.T) {
	pod := mustPod(t, podHeader+"spec:\n  containers:\n  - name: c\n    image: i\n")
	pod.UID = testUID
	ApplyAPIDefaults(pod, DefaultNamespace)
	nonRoot := pod.DeepCopy()
	nonRoot.Spec.SecurityContext.RunAsNonRoot = ptr(true)
	nonRootUID0 := nonRoot.DeepCopy()
	nonRootUID0.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{RunAsUser: ptr(int64(0))}

	tests := []struct {
		name      string
		pod       *corev1.Pod
		img       ImageInfo
		runAsUser any
		username  string
		wantErr   string
	}{
		{name: "image without USER runs as root, sent explicitly", pod: pod, img: ImageInfo{}, runAsUser: int64(0)},
		{name: "numeric image user", pod: pod, img: ImageInfo{UID: ptr(int64(1001))}, runAsUser: int64(1001)},
		{name: "named image user", pod: pod, img: ImageInfo{Username: "nginx"}, username: "nginx"},
		{name: "runAsNonRoot with a root image", pod: nonRoot, img: ImageInfo{},
			wantErr: `container has runAsNonRoot and image will run as root (pod: "fedora_test(` + testUID + `)", container: c)`},
		{name: "runAsNonRoot with a named user", pod: nonRoot, img: ImageInfo{Username: "nginx"},
			wantErr: "container has runAsNonRoot and image has non-numeric user (nginx), cannot verify user is non-root"},
		{name: "runAsNonRoot with runAsUser 0", pod: nonRootUID0, img: ImageInfo{UID: ptr(int64(5))},
			wantErr: "container's runAsUser breaks non-root policy"},
		{name: "runAsNonRoot with a non-root image", pod: nonRoot, img: ImageInfo{UID: ptr(int64(5))}, runAsUser: int64(5)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ContainerConfig(tt.pod, &tt.pod.Spec.Containers[0], tt.img, KubeletConfig{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			sc := cfg.GetLinux().GetSecurityContext()
			if got := int64Value(sc.GetRunAsUser()); got != tt.runAsUser || sc.GetRunAsUsername() != tt.username {
				t.Errorf("runAsUser %v username %q, want %v %q", got, sc.GetRunAsUsername(), tt.runAsUser, tt.username)
			}
		})
	}
}

func TestContainerEnvAndCommand(t *testing.T) {
	pod := mustPod(t, podHeader+`  labels:
    app: demo
spec:
  containers:
  - name: c
    image: i
    command: ["sh", "-c", "echo $(GREETING) $(UNDEFINED) $$(ESCAPED)"]
    args: ["$(POD)"]
    env:
    - name: NAME
      value: world
    - name: GREETING
      value: hello $(NAME)
    - name: POD
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    - name: APP
      valueFrom:
        fieldRef:
          fieldPath: metadata.labels['app']
`)
	ApplyAPIDefaults(pod, DefaultNamespace)
	cfg, err := ContainerConfig(pod, &pod.Spec.Containers[0], ImageInfo{}, KubeletConfig{})
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, kv := range cfg.GetEnvs() {
		env[kv.Key] = string(kv.Value)
	}
	want := map[string]string{"NAME": "world", "GREETING": "hello world", "POD": "fedora", "APP": "demo"}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("envs = %v, want %v", env, want)
	}
	if got, want := cfg.GetCommand(), []string{"sh", "-c", "echo hello world $(UNDEFINED) $(ESCAPED)"}; !reflect.DeepEqual(got, want) {
		t.Errorf("command = %q, want %q", got, want)
	}
	if got := cfg.GetArgs(); !reflect.DeepEqual(got, []string{"fedora"}) {
		t.Errorf("args = %q", got)
	}
}

func TestResourcesAndOOMScore(t *testing.T) {
	withResources := func(req, lim corev1.ResourceList) *corev1.Pod {
		pod := mustPod(t, podHeader+"spec:\n  containers:\n  - name: c\n    image: i\n")
		pod.Spec.Containers[0].Resources = corev1.ResourceRequirements{Requests: req, Limits: lim}
		ApplyAPIDefaults(pod, DefaultNamespace)
		return pod
	}
	q := resource.MustParse
	tests := []struct {
		name               string
		pod                *corev1.Pod
		qos                corev1.PodQOSClass
		shares, quota, mem int64
		oom                int64
	}{
		{"best effort", withResources(nil, nil), corev1.PodQOSBestEffort, 2, 0, 0, 1000},
		{"guaranteed: -997 is sent as 0 (pitfall P1)",
			withResources(nil, corev1.ResourceList{"cpu": q("500m"), "memory": q("1Gi")}), corev1.PodQOSGuaranteed, 512, 50000, 1 << 30, 0},
		{"burstable", withResources(corev1.ResourceList{"memory": q("2Gi")}, nil), corev1.PodQOSBurstable, 2, 0, 0, 750},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PodQOS(tt.pod); got != tt.qos {
				t.Errorf("PodQOS = %s, want %s", got, tt.qos)
			}
			r := linuxContainerResources(tt.pod, &tt.pod.Spec.Containers[0], 8<<30)
			if r.CpuShares != tt.shares || r.CpuQuota != tt.quota || r.MemoryLimitInBytes != tt.mem || r.OomScoreAdj != tt.oom {
				t.Errorf("resources = %v, want shares %d quota %d memory %d oom %d", r, tt.shares, tt.quota, tt.mem, tt.oom)
			}
		})
	}
}

func TestNamespacesForPod(t *testing.T) {
	tests := []struct {
		name          string
		mutate        func(*corev1.Pod)
		net, pid, ipc runtimeapi.NamespaceMode
	}{
		{"default", func(*corev1.Pod) {}, runtimeapi.NamespaceMode_POD, runtimeapi.NamespaceMode_CONTAINER, runtimeapi.NamespaceMode_POD},
		{"shareProcessNamespace", func(p *corev1.Pod) { p.Spec.ShareProcessNamespace = ptr(true) },
			runtimeapi.NamespaceMode_POD, runtimeapi.NamespaceMode_POD, runtimeapi.NamespaceMode_POD},
		{"host namespaces", func(p *corev1.Pod) { p.Spec.HostNetwork, p.Spec.HostPID, p.Spec.HostIPC = true, true, true },
			runtimeapi.NamespaceMode_NODE, runtimeapi.NamespaceMode_NODE, runtimeapi.NamespaceMode_NODE},
	}
	for _, tt := range tests {
		pod := mustPod(t, podHeader+"spec:\n  containers:\n  - name: c\n    image: i\n")
		tt.mutate(pod)
		ns, err := NamespacesForPod(pod, KubeletConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if ns.Network != tt.net || ns.Pid != tt.pid || ns.Ipc != tt.ipc {
			t.Errorf("%s: namespaces %v, want net %v pid %v ipc %v", tt.name, ns, tt.net, tt.pid, tt.ipc)
		}
	}
}

func TestInitContainersTranslateLikeContainers(t *testing.T) {
	pod := mustPod(t, podHeader+"spec:\n  initContainers:\n  - name: init\n    image: i\n  containers:\n  - name: c\n    image: i\n")
	_, ctrs := translate(t, pod, SCCRestricted, KubeletConfig{})
	if len(ctrs) != 2 || ctrs[0].GetMetadata().GetName() != "init" {
		t.Fatalf("configs %v", ctrs)
	}
	if got := int64Value(ctrs[0].GetLinux().GetSecurityContext().GetRunAsUser()); got != int64(1000650000) {
		t.Errorf("init container runAsUser = %v, want the SCC default", got)
	}
}
