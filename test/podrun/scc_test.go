package podrun

import (
	"errors"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// mustPod decodes a manifest written in a test.
func mustPod(t *testing.T, yaml string) *corev1.Pod {
	t.Helper()
	pod, err := DecodeManifest(t.Name(), []byte(yaml))
	if err != nil {
		t.Fatalf("decoding test manifest: %v", err)
	}
	return pod
}

const podHeader = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: fedora\n"

func TestAdmitRejects(t *testing.T) {
	const prefix = `pods "fedora" is forbidden: unable to validate against any security context constraint: `
	tests := []struct {
		name   string
		scc    string
		ranges NamespaceRanges
		yaml   string
		want   string
	}{{
		name: "field report 000: container runAsUser 0",
		scc:  SCCRestricted,
		yaml: podHeader + "spec:\n  containers:\n  - name: fedora\n    image: f\n    securityContext:\n      runAsUser: 0\n",
		want: prefix + "spec.containers[0].securityContext.runAsUser: Invalid value: 0: must be in the ranges: [1000650000, 1000659999]",
	}, {
		name: "pod-level runAsUser is checked where a container inherits it",
		scc:  SCCRestricted,
		yaml: podHeader + "spec:\n  securityContext:\n    runAsUser: 0\n  containers:\n  - name: fedora\n    image: f\n",
		want: prefix + "spec.containers[0].securityContext.runAsUser: Invalid value: 0: must be in the ranges: [1000650000, 1000659999]",
	}, {
		name: "init container path",
		scc:  SCCRestricted,
		yaml: podHeader + "spec:\n  initContainers:\n  - name: init\n    image: f\n    securityContext:\n      runAsUser: 7\n  containers:\n  - name: fedora\n    image: f\n",
		want: prefix + "spec.initContainers[0].securityContext.runAsUser: Invalid value: 7: must be in the ranges: [1000650000, 1000659999]",
	}, {
		name:   "range from the namespace",
		scc:    SCCRestrictedV2,
		ranges: NamespaceRanges{UIDs: IDRange{First: 5000, Last: 5009}},
		yaml:   podHeader + "spec:\n  containers:\n  - name: fedora\n    image: f\n    securityContext:\n      runAsUser: 5010\n",
		want:   prefix + "spec.containers[0].securityContext.runAsUser: Invalid value: 5010: must be in the ranges: [5000, 5009]",
	}, {
		name: "adding a capability",
		scc:  SCCRestricted,
		yaml: podHeader + "spec:\n  containers:\n  - name: fedora\n    image: f\n    securityContext:\n      capabilities:\n        add: [SETUID]\n",
		want: prefix + `spec.containers[0].securityContext.capabilities.add: Invalid value: "SETUID": capability may not be added`,
	}, {
		name: "restricted-v2 allows only NET_BIND_SERVICE",
		scc:  SCCRestrictedV2,
		yaml: podHeader + "spec:\n  containers:\n  - name: fedora\n    image: f\n    securityContext:\n      capabilities:\n        add: [NET_BIND_SERVICE, SETUID]\n",
		want: prefix + `spec.containers[0].securityContext.capabilities.add: Invalid value: "SETUID": capability may not be added`,
	}, {
		name: "privileged",
		scc:  SCCAnyUID,
		yaml: podHeader + "spec:\n  containers:\n  - name: fedora\n    image: f\n    securityContext:\n      privileged: true\n",
		want: prefix + "spec.containers[0].securityContext.privileged: Invalid value: true: Privileged containers are not allowed",
	}, {
		name: "restricted-v2 forbids privilege escalation",
		scc:  SCCRestrictedV2,
		yaml: podHeader + "spec:\n  containers:\n  - name: fedora\n    image: f\n    securityContext:\n      allowPrivilegeEscalation: true\n",
		want: prefix + "spec.containers[0].securityContext.allowPrivilegeEscalation: Invalid value: true: Allowing privilege escalation for containers is not allowed",
	}, {
		name: "fsGroup outside the first group",
		scc:  SCCRestricted,
		yaml: podHeader + "spec:\n  securityContext:\n    fsGroup: 1000\n  containers:\n  - name: fedora\n    image: f\n",
		want: prefix + "provider restricted: .spec.securityContext.fsGroup: Invalid value: [1000]: 1000 is not an allowed group",
	}, {
		name: "host network",
		scc:  SCCAnyUID,
		yaml: podHeader + "spec:\n  hostNetwork: true\n  containers:\n  - name: fedora\n    image: f\n",
		want: prefix + "provider anyuid: .spec.securityContext.hostNetwork: Invalid value: true: Host network is not allowed to be used",
	}, {
		name: "unsafe sysctl",
		scc:  SCCAnyUID,
		yaml: podHeader + "spec:\n  securityContext:\n    sysctls:\n    - name: kernel.msgmax\n      value: \"1\"\n  containers:\n  - name: fedora\n    image: f\n",
		want: prefix + `spec.securityContext.sysctls[0]: Forbidden: unsafe sysctl "kernel.msgmax" is not allowed`,
	}, {
		name: "host port",
		scc:  SCCRestricted,
		yaml: podHeader + "spec:\n  containers:\n  - name: fedora\n    image: f\n    ports:\n    - containerPort: 80\n      hostPort: 8080\n",
		want: prefix + "spec.containers[0].ports.hostPort: Invalid value: 8080: Host ports are not allowed to be used",
	}, {
		name: "restricted has no seccomp profiles",
		scc:  SCCRestricted,
		yaml: podHeader + "spec:\n  securityContext:\n    seccompProfile:\n      type: RuntimeDefault\n  containers:\n  - name: fedora\n    image: f\n",
		want: prefix + "[pod.metadata.annotations[seccomp.security.alpha.kubernetes.io/pod]: Forbidden: seccomp may not be set, " +
			"pod.metadata.annotations[container.seccomp.security.alpha.kubernetes.io/fedora]: Forbidden: seccomp may not be set]",
	}, {
		name: "several errors are listed together",
		scc:  SCCRestricted,
		yaml: podHeader + "spec:\n  containers:\n  - name: a\n    image: f\n    securityContext:\n      runAsUser: 0\n  - name: b\n    image: f\n    securityContext:\n      privileged: true\n      runAsUser: 1\n",
		want: prefix + "[spec.containers[0].securityContext.runAsUser: Invalid value: 0: must be in the ranges: [1000650000, 1000659999], " +
			"spec.containers[1].securityContext.runAsUser: Invalid value: 1: must be in the ranges: [1000650000, 1000659999], " +
			"spec.containers[1].securityContext.privileged: Invalid value: true: Privileged containers are not allowed]",
	}, {
		name: "restricted-v3 requires hostUsers: false (unset)",
		scc:  SCCRestrictedV3,
		yaml: podHeader + "spec:\n  containers:\n  - name: fedora\n    image: f\n",
		want: prefix + `provider restricted-v3: .spec.securityContext.hostUsers: Invalid value: null: Host Users must be set to false`,
	}, {
		name: "nested-container requires hostUsers: false (true)",
		scc:  SCCNestedContainer,
		yaml: podHeader + "spec:\n  hostUsers: true\n  containers:\n  - name: fedora\n    image: f\n",
		want: prefix + "provider nested-container: .spec.securityContext.hostUsers: Invalid value: true: Host Users must be set to false",
	}, {
		name: "restricted-v3: its own UID range, root refused (field report 004's runAsUser: 0)",
		scc:  SCCRestrictedV3,
		yaml: podHeader + "spec:\n  hostUsers: false\n  containers:\n  - name: fedora\n    image: f\n    securityContext:\n      runAsUser: 0\n      runAsGroup: 0\n",
		want: prefix + "spec.containers[0].securityContext.runAsUser: Invalid value: 0: must be in the ranges: [1000, 65534]",
	}, {
		name: "restricted-v3 allows only NET_BIND_SERVICE",
		scc:  SCCRestrictedV3,
		yaml: podHeader + "spec:\n  hostUsers: false\n  containers:\n  - name: fedora\n    image: f\n    securityContext:\n      capabilities:\n        add: [SETUID]\n",
		want: prefix + `spec.containers[0].securityContext.capabilities.add: Invalid value: "SETUID": capability may not be added`,
	}, {
		name: "restricted-v3 fsGroup from its own range",
		scc:  SCCRestrictedV3,
		yaml: podHeader + "spec:\n  hostUsers: false\n  securityContext:\n    fsGroup: 70000\n  containers:\n  - name: fedora\n    image: f\n",
		want: prefix + "provider restricted-v3: .spec.securityContext.fsGroup: Invalid value: [70000]: 70000 is not an allowed group",
	}, {
		name: "nested-container: UIDs up to 65534, SETUID/SETGID but nothing else may be added",
		scc:  SCCNestedContainer,
		yaml: podHeader + "spec:\n  hostUsers: false\n  containers:\n  - name: fedora\n    image: f\n    securityContext:\n      runAsUser: 65535\n      capabilities:\n        add: [SETUID, SETGID, SYS_ADMIN]\n",
		want: prefix + "[spec.containers[0].securityContext.runAsUser: Invalid value: 65535: must be in the ranges: [0, 65534], " +
			`spec.containers[0].securityContext.capabilities.add: Invalid value: "SYS_ADMIN": capability may not be added]`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Admit(mustPod(t, tt.yaml), tt.scc, tt.ranges)
			var ae *AdmissionError
			if !errors.As(err, &ae) {
				t.Fatalf("Admit: got %v, want an *AdmissionError", err)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Admit error:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestAdmitMutates(t *testing.T) {
	type containerWant struct {
		runAsUser    *int64
		runAsNonRoot *bool
		add, drop    []corev1.Capability
		ape          *bool
	}
	tests := []struct {
		name          string
		scc           string
		ranges        NamespaceRanges
		yaml          string
		podRunAsUser  *int64
		fsGroup       *int64
		podSeccomp    *corev1.SeccompProfile
		annotations   map[string]string
		containers    []containerWant
		unchangedFrom bool // the pod must come back exactly as given
	}{{
		name:        "restricted defaults the container, never the pod",
		scc:         SCCRestricted,
		yaml:        podHeader + "spec:\n  containers:\n  - name: fedora\n    image: f\n",
		fsGroup:     ptr(int64(1000650000)),
		annotations: map[string]string{ValidatedSCCAnnotation: SCCRestricted},
		containers: []containerWant{{
			runAsUser: ptr(int64(1000650000)), runAsNonRoot: ptr(true),
			drop: []corev1.Capability{"KILL", "MKNOD", "SETGID", "SETUID"},
		}},
	}, {
		name:         "a pod-level runAsUser in range is inherited, not copied",
		scc:          SCCRestricted,
		yaml:         podHeader + "spec:\n  securityContext:\n    runAsUser: 1000650000\n  containers:\n  - name: fedora\n    image: f\n",
		podRunAsUser: ptr(int64(1000650000)),
		fsGroup:      ptr(int64(1000650000)),
		annotations:  map[string]string{ValidatedSCCAnnotation: SCCRestricted},
		containers: []containerWant{{
			runAsNonRoot: ptr(true),
			drop:         []corev1.Capability{"KILL", "MKNOD", "SETGID", "SETUID"},
		}},
	}, {
		name: "OpenShift does not check a pod-level runAsUser that every container overrides",
		scc:  SCCRestricted,
		yaml: podHeader + "spec:\n  securityContext:\n    runAsUser: 0\n  containers:\n  - name: fedora\n    image: f\n    securityContext:\n      runAsUser: 1000650001\n",
		// The pod value 0 (host root, and map-to-root's choice of the UID to
		// map to in-namespace root) stays and is never validated.
		podRunAsUser: ptr(int64(0)),
		fsGroup:      ptr(int64(1000650000)),
		annotations:  map[string]string{ValidatedSCCAnnotation: SCCRestricted},
		containers: []containerWant{{
			runAsUser: ptr(int64(1000650001)), runAsNonRoot: ptr(true),
			drop: []corev1.Capability{"KILL", "MKNOD", "SETGID", "SETUID"},
		}},
	}, {
		name:        "required drops merge with the container's, sorted, no duplicates",
		scc:         SCCRestricted,
		ranges:      NamespaceRanges{UIDs: IDRange{First: 2000, Last: 2099}, SupplementalGroups: IDRange{First: 3000, Last: 3004}},
		yaml:        podHeader + "spec:\n  containers:\n  - name: fedora\n    image: f\n    securityContext:\n      capabilities:\n        drop: [NET_RAW, KILL]\n",
		fsGroup:     ptr(int64(3000)),
		annotations: map[string]string{ValidatedSCCAnnotation: SCCRestricted},
		containers: []containerWant{{
			runAsUser: ptr(int64(2000)), runAsNonRoot: ptr(true),
			drop: []corev1.Capability{"KILL", "MKNOD", "NET_RAW", "SETGID", "SETUID"},
		}},
	}, {
		name:       "restricted-v2",
		scc:        SCCRestrictedV2,
		yaml:       podHeader + "spec:\n  containers:\n  - name: fedora\n    image: f\n    securityContext:\n      capabilities:\n        add: [NET_BIND_SERVICE]\n",
		fsGroup:    ptr(int64(1000650000)),
		podSeccomp: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		annotations: map[string]string{
			ValidatedSCCAnnotation:         SCCRestrictedV2,
			corev1.SeccompPodAnnotationKey: corev1.SeccompProfileRuntimeDefault,
		},
		containers: []containerWant{{
			runAsUser: ptr(int64(1000650000)), runAsNonRoot: ptr(true),
			add: []corev1.Capability{"NET_BIND_SERVICE"}, drop: []corev1.Capability{"ALL"},
			ape: ptr(false),
		}},
	}, {
		name:        "anyuid: runAsUser 0 allowed, only MKNOD dropped, no fsGroup",
		scc:         SCCAnyUID,
		yaml:        podHeader + "  annotations:\n    openshift.io/scc: restricted\nspec:\n  containers:\n  - name: fedora\n    image: f\n    securityContext:\n      runAsUser: 0\n      runAsGroup: 0\n",
		annotations: map[string]string{ValidatedSCCAnnotation: SCCAnyUID},
		containers: []containerWant{{
			runAsUser: ptr(int64(0)),
			drop:      []corev1.Capability{"MKNOD"},
		}},
	}, {
		name:       "restricted-v3: the SCC's range, not the namespace's; drop ALL; no escalation",
		scc:        SCCRestrictedV3,
		yaml:       podHeader + "spec:\n  hostUsers: false\n  containers:\n  - name: fedora\n    image: f\n",
		fsGroup:    ptr(int64(1000)),
		podSeccomp: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		annotations: map[string]string{
			ValidatedSCCAnnotation:         SCCRestrictedV3,
			corev1.SeccompPodAnnotationKey: corev1.SeccompProfileRuntimeDefault,
		},
		containers: []containerWant{{
			runAsUser: ptr(int64(1000)), runAsNonRoot: ptr(true),
			drop: []corev1.Capability{"ALL"},
			ape:  ptr(false),
		}},
	}, {
		name:        "nested-container: runAsUser 0 kept, nothing dropped, SETUID/SETGID may be added, no seccomp default",
		scc:         SCCNestedContainer,
		yaml:        podHeader + "spec:\n  hostUsers: false\n  containers:\n  - name: fedora\n    image: f\n    securityContext:\n      runAsUser: 0\n      capabilities:\n        add: [SETUID, SETGID]\n",
		fsGroup:     ptr(int64(0)),
		annotations: map[string]string{ValidatedSCCAnnotation: SCCNestedContainer},
		containers: []containerWant{{
			runAsUser: ptr(int64(0)),
			add:       []corev1.Capability{"SETUID", "SETGID"},
		}},
	}, {
		name:        "nested-container defaults runAsUser to 0, the first ID of its range",
		scc:         SCCNestedContainer,
		yaml:        podHeader + "spec:\n  hostUsers: false\n  containers:\n  - name: fedora\n    image: f\n",
		fsGroup:     ptr(int64(0)),
		annotations: map[string]string{ValidatedSCCAnnotation: SCCNestedContainer},
		containers:  []containerWant{{runAsUser: ptr(int64(0))}},
	}, {
		name:          "none leaves the pod alone",
		scc:           SCCNone,
		yaml:          podHeader + "spec:\n  containers:\n  - name: fedora\n    image: f\n    securityContext:\n      runAsUser: 0\n",
		unchangedFrom: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := mustPod(t, tt.yaml)
			orig := in.DeepCopy()
			got, err := Admit(in, tt.scc, tt.ranges)
			if err != nil {
				t.Fatalf("Admit: %v", err)
			}
			if !reflect.DeepEqual(in, orig) {
				t.Errorf("Admit changed its input")
			}
			if tt.unchangedFrom {
				if !reflect.DeepEqual(got, orig) {
					t.Errorf("Admit(%s) changed the pod: %+v", tt.scc, got)
				}
				return
			}
			psc := got.Spec.SecurityContext
			if !reflect.DeepEqual(psc.RunAsUser, tt.podRunAsUser) {
				t.Errorf("pod runAsUser = %v, want %v", deref(psc.RunAsUser), deref(tt.podRunAsUser))
			}
			if !reflect.DeepEqual(psc.FSGroup, tt.fsGroup) {
				t.Errorf("pod fsGroup = %v, want %v", deref(psc.FSGroup), deref(tt.fsGroup))
			}
			if !reflect.DeepEqual(psc.SeccompProfile, tt.podSeccomp) {
				t.Errorf("pod seccompProfile = %+v, want %+v", psc.SeccompProfile, tt.podSeccomp)
			}
			if !reflect.DeepEqual(got.Annotations, tt.annotations) {
				t.Errorf("annotations = %v, want %v", got.Annotations, tt.annotations)
			}
			for i, w := range tt.containers {
				sc := got.Spec.Containers[i].SecurityContext
				if !reflect.DeepEqual(sc.RunAsUser, w.runAsUser) {
					t.Errorf("container %d runAsUser = %v, want %v", i, deref(sc.RunAsUser), deref(w.runAsUser))
				}
				if !reflect.DeepEqual(sc.RunAsNonRoot, w.runAsNonRoot) {
					t.Errorf("container %d runAsNonRoot = %v, want %v", i, deref(sc.RunAsNonRoot), deref(w.runAsNonRoot))
				}
				if !reflect.DeepEqual(sc.AllowPrivilegeEscalation, w.ape) {
					t.Errorf("container %d allowPrivilegeEscalation = %v, want %v", i, deref(sc.AllowPrivilegeEscalation), deref(w.ape))
				}
				var add, drop []corev1.Capability
				if sc.Capabilities != nil {
					add, drop = sc.Capabilities.Add, sc.Capabilities.Drop
				}
				if !reflect.DeepEqual(add, w.add) || !reflect.DeepEqual(drop, w.drop) {
					t.Errorf("container %d capabilities add %v drop %v, want add %v drop %v", i, add, drop, w.add, w.drop)
				}
			}
		})
	}
}

func TestAdmitUnknownSCC(t *testing.T) {
	_, err := Admit(mustPod(t, podHeader+"spec:\n  containers:\n  - name: a\n    image: f\n"), "privileged", NamespaceRanges{})
	var ae *AdmissionError
	if err == nil || errors.As(err, &ae) {
		t.Fatalf("Admit with an unknown SCC: got %v, want a plain error", err)
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
