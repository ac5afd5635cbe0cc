package podrun

import (
	"crypto/rand"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// ApplyAPIDefaults does to pod what the API server does before admission sees
// it: it fills in the namespace, a name from generateName, a UID, and the
// defaults that matter on the node (k8s.io/kubernetes pkg/apis/core/v1
// defaults.go: SetDefaults_Pod, SetDefaults_PodSpec, SetDefaults_Container).
// Fields already set are left alone, so applying it twice changes nothing.
func ApplyAPIDefaults(pod *corev1.Pod, namespace string) {
	if pod.Namespace == "" {
		pod.Namespace = namespace
	}
	if pod.Name == "" && pod.GenerateName != "" {
		// The API server's names.SimpleNameGenerator appends 5 random characters.
		pod.Name = pod.GenerateName + randomSuffix(5)
	}
	if pod.UID == "" {
		pod.UID = NewPodUID()
	}

	spec := &pod.Spec
	// SetDefaults_PodSpec: the pod security context is never nil after
	// defaulting, which matters because generatePodSandboxLinuxConfig only
	// sets namespace options when it is present.
	if spec.SecurityContext == nil {
		spec.SecurityContext = &corev1.PodSecurityContext{}
	}
	if spec.RestartPolicy == "" {
		spec.RestartPolicy = corev1.RestartPolicyAlways
	}
	if spec.DNSPolicy == "" {
		spec.DNSPolicy = corev1.DNSClusterFirst
	}
	if spec.TerminationGracePeriodSeconds == nil {
		spec.TerminationGracePeriodSeconds = ptr(int64(corev1.DefaultTerminationGracePeriodSeconds))
	}
	if spec.SchedulerName == "" {
		spec.SchedulerName = corev1.DefaultSchedulerName
	}
	if spec.EnableServiceLinks == nil {
		spec.EnableServiceLinks = ptr(corev1.DefaultEnableServiceLinks)
	}
	for i := range spec.InitContainers {
		defaultContainer(&spec.InitContainers[i])
	}
	for i := range spec.Containers {
		defaultContainer(&spec.Containers[i])
	}
}

func defaultContainer(c *corev1.Container) {
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = corev1.TerminationMessagePathDefault
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = corev1.TerminationMessageReadFile
	}
	if c.ImagePullPolicy == "" {
		// SetDefaults_Container: Always for :latest or an untagged image.
		c.ImagePullPolicy = corev1.PullIfNotPresent
		if !strings.Contains(c.Image, "@") {
			last := c.Image[strings.LastIndex(c.Image, "/")+1:]
			if !strings.Contains(last, ":") || strings.HasSuffix(last, ":latest") {
				c.ImagePullPolicy = corev1.PullAlways
			}
		}
	}
	// SetDefaults_Pod: a limit without a request makes the request equal the
	// limit (this decides the QoS class, hence oom_score_adj).
	for name, limit := range c.Resources.Limits {
		if _, ok := c.Resources.Requests[name]; !ok {
			if c.Resources.Requests == nil {
				c.Resources.Requests = corev1.ResourceList{}
			}
			c.Resources.Requests[name] = limit.DeepCopy()
		}
	}
}

// NewPodUID returns a random (version 4) UUID, the form the API server gives
// every pod.
func NewPodUID() types.UID {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("reading random bytes: %v", err))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return types.UID(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
}

func randomSuffix(n int) string {
	// The API server's alphabet avoids vowels and look-alike characters.
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("reading random bytes: %v", err))
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
