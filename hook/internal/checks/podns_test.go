package checks

import (
	"errors"
	"reflect"
	"testing"

	"github.com/crio-userns/crio-userns/hook/internal/nsfs"
)

func TestCheckPodUserns(t *testing.T) {
	host := nsfs.ID{Dev: 4, Ino: 1}
	pod := nsfs.ID{Dev: 4, Ino: 2}
	other := nsfs.ID{Dev: 4, Ino: 3}
	net := func(owner nsfs.ID) PodNamespace {
		return PodNamespace{Type: "network", Path: "/var/run/netns/x", Owner: owner}
	}
	for _, tc := range []struct {
		name       string
		userns     nsfs.ID
		podNS      []PodNamespace
		registered *RegisteredPod
		otherPod   *RegisteredPod
		want       []string
	}{
		{name: "host pod, host container", userns: host, podNS: []PodNamespace{net(host)}},
		{name: "user-namespaced pod, its container", userns: pod, podNS: []PodNamespace{net(pod), {Type: "ipc", Path: "/i", Owner: pod}}},
		{name: "user-namespaced pod, container in the host's (CRI-O restart)", userns: host, podNS: []PodNamespace{net(pod)},
			want: []string{"container runs in the host's user namespace, but its pod's network namespace (/var/run/netns/x) belongs to user namespace 4:2"}},
		{name: "three pod namespaces, one finding", userns: host, podNS: []PodNamespace{net(pod), {Type: "ipc", Path: "/i", Owner: pod}, {Type: "uts", Path: "/u", Owner: pod}},
			want: []string{"container runs in the host's user namespace, but its pod's network, ipc and uts namespaces (/var/run/netns/x, ...) belong to user namespace 4:2"}},
		{name: "user-namespaced pod, container in another", userns: other, podNS: []PodNamespace{net(pod)},
			want: []string{"container runs in user namespace 4:3, but its pod's network namespace (/var/run/netns/x) belongs to user namespace 4:2"}},
		{name: "host network, pod registered in a user namespace", userns: host,
			registered: &RegisteredPod{Pod: "proj/web", Container: "app", NS: pod},
			want:       []string{"container runs in the host's user namespace, but its pod proj/web already runs containers in user namespace 4:2 (container app)"}},
		{name: "the pod's registered namespace is the container's", userns: pod, registered: &RegisteredPod{Pod: "proj/web", NS: pod}},
		{name: "two pods in one namespace", userns: pod, otherPod: &RegisteredPod{Pod: "proj/db", Container: "pg\n", NS: pod},
			want: []string{"container runs in user namespace 4:2, which pod proj/db runs in (container pg?): two pods would share their IDs"}},
		{name: "owner unknown", userns: host, podNS: []PodNamespace{{Type: "uts", Path: "/u", Err: errors.New("/u: not a namespace file")}},
			want: []string{"cannot tell which user namespace owns the pod's uts namespace: /u: not a namespace file"}},
		{name: "offline, namespace still to be created", podNS: []PodNamespace{net(pod)}},
	} {
		got := CheckPodUserns(tc.userns, host, tc.podNS, tc.registered, tc.otherPod)
		if !reflect.DeepEqual(reasons(got), tc.want) {
			t.Errorf("%s:\n got %v\nwant %v", tc.name, reasons(got), tc.want)
		}
	}
}
