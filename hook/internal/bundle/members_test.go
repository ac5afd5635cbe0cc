package bundle

import (
	"encoding/json"
	"reflect"
	"testing"
)

const realisticConfig = `{"ociVersion":"1.3.0","process":{"user":{"uid":0,"gid":0,"additionalGids":[1,2]},"args":["/x","y\"z"],"env":["A=B"],"capabilities":{"bounding":["CAP_CHOWN"],"effective":["CAP_CHOWN"]},"noNewPrivileges":true},"root":{"path":"rootfs","readonly":false},"mounts":[{"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["nosuid","ro"]}],"annotations":{"io.kubernetes.pod.name":"web","x":"{[\"]}"},"linux":{"uidMappings":[{"containerID":0,"hostID":200000,"size":65536}],"gidMappings":[{"containerID":0,"hostID":200000,"size":65536}],"namespaces":[{"type":"pid"},{"type":"user","path":"/run/pin"}],"seccomp":{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]}]},"maskedPaths":["/proc/kcore"]}}`

// fastInputs are documents the fast path takes, slowInputs ones it leaves
// to encoding/json (a member given twice, whose merging is encoding/json's
// own, other types and number forms, invalid JSON); the fuzzer starts from
// both.
var fastInputs = []string{
	realisticConfig,
	`{}`, `{"process":null}`, `{"process":{}}`, `{"process":{"user":null,"capabilities":null}}`,
	`{"li\u006eux":{"uidMappings":[{"containerID":1,"hostID":2,"size":3}]}}`,
	`{"Linux":{"UIDMappings":[{"hostID":2,"containerID":1,"size":3}],"gidMappings":null}}`,
	`{"linux":{"namespaces":[],"uidMappings":[]},"mounts":[],"annotations":{}}`,
	`{"linux":{"namespaces":[null,{"type":"user","path":null}]},"mounts":[null,{"options":null}]}`,
	`{"annotations":{"a":"1","a":"2","b":null,"c\u0041":"\"x\"","d":"\u00e9\ud83d\ude00"}}`,
	"{\"annotations\":{\"bad\":\"\xff\xfe\",\"\xff\":\"é\"}}",
	`{"process":{"user":{"uid":4294967295,"gid":0,"additionalGids":[0,1,null]}}}`,
	`{"process":{"capabilities":{"bounding":["CAP_A",null]}}}`,
	`{"root":{"path":"r","readonly":true},"root2":{"path":1}}`,
	` { "x" : [ 1 , -2.5e+3 , true , false , null , { "y" : [ ] } ] , "linux" : { } } `,
	`{"x":[0,-0,0.5,1E9,2e-3,"\"\\\/\b\f\n\r\t\u00E9"]}`,
	// The second map of a document, its text the first's or not.
	`{"linux":{"gidMappings":[ {"containerID":0, "hostID":5,"size":2} ],"uidMappings":[ {"containerID":0, "hostID":5,"size":2} ] }}`,
	`{"linux":{"uidMappings":[{"containerID":0,"hostID":5,"size":2}],"gidMappings":[{"containerID":0,"hostID":5,"size":2},{"containerID":2,"hostID":9,"size":1}]}}`,
	`{"linux":{"uidMappings":[{"containerID":0,"hostID":5,"size":2},{"containerID":2,"hostID":9,"size":1}],"gidMappings":[{"containerID":0,"hostID":5,"size":2}]}}`,
	`{"linux":{"uidMappings":[],"gidMappings":[]}}`, `{"linux":{"uidMappings":null,"gidMappings":null}}`,
	`{"linux":{"uidMappings":[{"hostID":5,"containerID":0,"size":2}],"gidMappings":[{"hostID":5,"containerID":0,"size":2}]}}`,
}

var slowInputs = []string{
	`{"PROCESS":{"user":{"uid":5}},"process":{"user":{"gid":6}}}`,
	`{"linux":{"namespaces":[{"type":"user"}],"namespaces":null}}`,
	`{"annotations":{"a":"1"},"annotations":{"b":"2"}}`,
	`{"process":{"user":{"uid":1}},"process":null,"process":{"user":{"gid":2}}}`,
	`{"linux":{"namespaces":[{"type":"user","Type":"pid"}]}}`,
	`{"process":"x"}`, `{"process":{"user":{"uid":"x"}}}`, `{"process":{"user":{"uid":1.0}}}`,
	`{"process":{"user":{"uid":4294967296}}}`, `{"process":{"user":{"uid":-1}}}`, `{"process":{"user":{"uid":01}}}`,
	`{"annotations":{"a":1}}`, `{"annotations":{"a":"\x"}}`, `{"mounts":{}}`,
	`{"x":"\q"}`, `{"x":"\u12"}`, `{"x":01}`, `{"x":1.}`, `{"x":-}`, `{"x":1e}`, `{"x":.5}`, `{"x":+1}`, `{"x":[1,-0.5e+3,"\u00e9\n"],"y":0x}`,
	`[1]`, `{"a":1,}`, `{"a":1} x`, `{"a":tru}`, `{"a":nul}`, `{"a":1x}`, `{"a" 1}`, `{"a":[1 2]}`, `{"a":"b
"}`,
}

func TestDecodeNarrowFastAgrees(t *testing.T) {
	agree := func(in string) {
		t.Helper()
		var slow narrowSpec
		slowErr := json.Unmarshal([]byte(in), &slow)
		got, err := decodeNarrow([]byte(in))
		if (err != nil) != (slowErr != nil) || !reflect.DeepEqual(got, slow) {
			t.Errorf("%s:\ndecodeNarrow %+v %v\nencoding/json %+v %v", in, got, err, slow, slowErr)
		}
	}
	for _, in := range fastInputs {
		var fast narrowSpec
		if err := decodeNarrowFast([]byte(in), &fast); err != nil {
			t.Errorf("%s: fast path refused: %v", in, err)
			continue
		}
		agree(in)
	}
	// Whatever the fast path does not take goes to encoding/json, for its
	// result or error.
	for _, in := range slowInputs {
		var n narrowSpec
		if err := decodeNarrowFast([]byte(in), &n); err == nil {
			t.Errorf("%s: fast path took it", in)
		}
		agree(in)
	}
}

// FuzzDecodeNarrow: every document the fast path takes is valid JSON, and
// it gives encoding/json's result for it.
func FuzzDecodeNarrow(f *testing.F) {
	for _, in := range append(fastInputs, slowInputs...) {
		f.Add(in)
	}
	f.Add(`{"Linux":{"UIDMappings":[{"containerID":1,"hostID":2,"size":3}],"uidmappings":null}}`)
	f.Fuzz(func(t *testing.T, s string) {
		var fast narrowSpec
		if err := decodeNarrowFast([]byte(s), &fast); err != nil {
			return
		}
		if !json.Valid([]byte(s)) {
			t.Fatalf("%q: fast path took invalid JSON", s)
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

// A second map with the first one's text is decoded once; each map still
// has its own extents, as callers change one without the other.
func TestIDMappingsAgainOwnCopy(t *testing.T) {
	in := `{"linux":{"uidMappings":[{"containerID":0,"hostID":5,"size":2}],"gidMappings":[{"containerID":0,"hostID":5,"size":2}]}}`
	var n narrowSpec
	if err := decodeNarrowFast([]byte(in), &n); err != nil {
		t.Fatal(err)
	}
	uids, gids := n.Linux.UIDMappings, n.Linux.GIDMappings
	if len(uids) != 1 || !reflect.DeepEqual(uids, gids) {
		t.Fatalf("uids %v gids %v", uids, gids)
	}
	uids[0].HostID = 7
	if gids[0].HostID != 5 {
		t.Fatalf("the gid map shares the uid map's extents: %v", gids)
	}
}
