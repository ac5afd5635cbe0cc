package bundle

import (
	"encoding/json"
	"reflect"
	"testing"
)

const realisticConfig = `{"ociVersion":"1.3.0","process":{"user":{"uid":0,"gid":0,"additionalGids":[1,2]},"args":["/x","y\"z"],"env":["A=B"],"capabilities":{"bounding":["CAP_CHOWN"],"effective":["CAP_CHOWN"]},"noNewPrivileges":true},"root":{"path":"rootfs","readonly":false},"mounts":[{"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["nosuid","ro"]}],"annotations":{"io.kubernetes.pod.name":"web","x":"{[\"]}"},"linux":{"uidMappings":[{"containerID":0,"hostID":200000,"size":65536}],"gidMappings":[{"containerID":0,"hostID":200000,"size":65536}],"namespaces":[{"type":"pid"},{"type":"user","path":"/run/pin"}],"seccomp":{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]}]},"maskedPaths":["/proc/kcore"]}}`

func TestDecodeNarrowFastAgrees(t *testing.T) {
	for _, in := range []string{
		realisticConfig,
		`{}`, `{"process":null}`, `{"PROCESS":{"user":{"uid":5}},"process":{"user":{"gid":6}}}`,
		`{"linux":{"namespaces":[{"type":"user"}],"namespaces":null}}`,
		`{"li\u006eux":{"uidMappings":[{"containerID":1,"hostID":2,"size":3}]}}`,
		`{"annotations":{"a":"1"},"annotations":{"b":"2"}}`,
		`{"process":{"user":{"uid":1}},"process":null,"process":{"user":{"gid":2}}}`,
	} {
		var fast narrowSpec
		if err := decodeNarrowFast([]byte(in), &fast); err != nil {
			t.Errorf("%s: fast path refused: %v", in, err)
			continue
		}
		var slow narrowSpec
		if err := json.Unmarshal([]byte(in), &slow); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Errorf("%s:\nfast %+v\nslow %+v", in, fast, slow)
		}
	}
	// Whatever the fast path cannot take goes to encoding/json, whose
	// errors the hook reports.
	for _, in := range []string{`{"process":"x"}`, `{"process":{"user":{"uid":"x"}}}`, `[1]`, `{"a":1,}`, `{"a":1} x`} {
		var n narrowSpec
		if err := decodeNarrowFast([]byte(in), &n); err == nil {
			t.Errorf("%s: fast path took it", in)
		}
	}
}

// FuzzDecodeNarrow: for every valid JSON document the fast path takes, it
// gives encoding/json's result.
func FuzzDecodeNarrow(f *testing.F) {
	f.Add(realisticConfig)
	f.Add(`{"Linux":{"UIDMappings":[{"containerID":1,"hostID":2,"size":3}],"uidmappings":null}}`)
	f.Add(`{"process":{"user":{"uid":1}},"process":null}`)
	f.Fuzz(func(t *testing.T, s string) {
		var fast narrowSpec
		if err := decodeNarrowFast([]byte(s), &fast); err != nil || !json.Valid([]byte(s)) {
			return
		}
		var slow narrowSpec
		if err := json.Unmarshal([]byte(s), &slow); err != nil {
			t.Fatalf("%q: fast path took it, encoding/json: %v", s, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q:\nfast %+v\nslow %+v", s, fast, slow)
		}
	})
}
