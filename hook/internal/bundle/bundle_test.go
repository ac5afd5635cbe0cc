package bundle

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func TestReadState(t *testing.T) {
	for _, tc := range []struct {
		name, in, wantErr string
	}{
		{name: "runc", in: `{"ociVersion":"1.2.0","id":"c1","status":"creating","pid":42,"bundle":"/b"}`},
		{name: "crun says created", in: `{"ociVersion":"1.0.0","id":"c1","status":"created","pid":42,"bundle":"/b","annotations":{"a":"b"}}`},
		{name: "unknown fields are fine", in: `{"id":"c1","bundle":"/b","future":true}`},
		{name: "empty", in: "", wantErr: "empty input"},
		{name: "truncated", in: `{"id":"c1","bun`, wantErr: "invalid JSON: unexpected end of JSON input"},
		{name: "wrong type", in: `{"id":1}`, wantErr: "invalid JSON: json: cannot unmarshal number into Go struct field state.id of type string"},
		{name: "invalid where unread", in: `{"id":"c1","bundle":"/b","future":01}`, wantErr: "invalid JSON: invalid character '1' after object key:value pair"},
		{name: "no id", in: `{"bundle":"/b"}`, wantErr: `no container "id"`},
		{name: "no bundle", in: `{"id":"c"}`, wantErr: `no "bundle" path`},
		{name: "relative bundle", in: `{"id":"c","bundle":"x/y"}`, wantErr: `bundle path "x/y" is not absolute`},
		{name: "negative pid", in: `{"id":"c","bundle":"/b","pid":-1}`, wantErr: "negative pid -1"},
		{name: "too large", in: `{"id":"c","bundle":"/b","annotations":{"x":"` + strings.Repeat("a", MaxStateSize) + `"}}`, wantErr: "larger than 1048576 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := ReadState(strings.NewReader(tc.in))
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr && !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || st.ID != "c1" {
				t.Fatalf("%+v %v", st, err)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadConfig(dir); err == nil || !os.IsNotExist(err) {
		t.Fatalf("missing config: %v", err)
	}
	cfg := `{"ociVersion":"1.3.0","root":{"path":"rootfs"},"linux":{"namespaces":[{"type":"pid"},{"type":"user","path":"/pin"}],"uidMappings":[{"containerID":0,"hostID":200000,"size":65536}]}}`
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o644)
	data, err := ReadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, ok, err := ParseSpec(data)
	if err != nil || !ok {
		t.Fatalf("ParseSpec = %v %v", ok, err)
	}
	if p, ok := UserNamespacePath(s); !ok || p != "/pin" {
		t.Fatalf("UserNamespacePath = %q %v", p, ok)
	}
	if r, err := Rootfs(dir, s); err != nil || r != filepath.Join(dir, "rootfs") {
		t.Fatalf("Rootfs = %q %v", r, err)
	}
	s.Root.Path = "/abs/../abs/root"
	if r, _ := Rootfs(dir, s); r != "/abs/root" {
		t.Fatalf("absolute Rootfs = %q", r)
	}
	s.Root = nil
	if _, err := Rootfs(dir, s); err == nil || err.Error() != "config.json: no root.path" {
		t.Fatalf("no root: %v", err)
	}
	for _, in := range []string{`{}`, `{"linux":null}`, `{"linux":{"namespaces":[{"type":"network"}]}}`} {
		if _, ok, err := ParseSpec([]byte(in)); ok || err != nil {
			t.Errorf("ParseSpec(%s) = %v %v", in, ok, err)
		}
	}
	if _, _, err := ParseSpec([]byte(`{"linux":{"namespaces":{}}}`)); err == nil {
		t.Error("namespaces as an object must be an error")
	}
	// The narrow decode keeps what the checks read.
	full := `{"process":{"user":{"uid":5,"gid":6,"additionalGids":[7]},"args":["x"],"env":["A=B"]},"mounts":[{"destination":"/x"}],"linux":{"namespaces":[{"type":"user"}],"gidMappings":[{"containerID":0,"hostID":9,"size":1}],"seccomp":{"defaultAction":"SCMP_ACT_ERRNO"}}}`
	s2, ok, err := ParseSpec([]byte(full))
	if err != nil || !ok || s2.Process.User.UID != 5 || s2.Process.User.AdditionalGids[0] != 7 || s2.Linux.GIDMappings[0].HostID != 9 {
		t.Errorf("narrow decode: %+v %v %v", s2, ok, err)
	}
}

func TestTarget(t *testing.T) {
	spec := &rspec.Spec{Annotations: map[string]string{
		AnnotationPodNamespace: "proj", AnnotationPodName: "web", AnnotationContainerName: "app\nx",
		AnnotationSandboxID: "sb", AnnotationPodUID: "u",
	}}
	tg := TargetOf(spec, &rspec.State{ID: "cid"})
	if tg.String() != "proj/web/app?x" || tg.ContainerID != "cid" || tg.PodKey() != "sandbox:sb" {
		t.Fatalf("%+v %s", tg, tg)
	}
	tg = TargetOf(nil, &rspec.State{ID: "cid"})
	if tg.String() != "-/-/cid" || tg.PodKey() != "" {
		t.Fatalf("%+v", tg)
	}
	if (Target{PodUID: "u"}).PodKey() != "uid:u" || (Target{Namespace: "n", Pod: "p"}).PodKey() != "name:n/p" {
		t.Fatal("PodKey fallbacks")
	}
}

// FuzzReadState: the state parser must never panic, and what it accepts
// must have what the hook relies on.
func FuzzReadState(f *testing.F) {
	for _, s := range []string{
		`{"ociVersion":"1.2.0","id":"c1","status":"creating","pid":42,"bundle":"/b"}`,
		`{"id":"c","bundle":"/b","annotations":{"io.kubernetes.pod.name":"x"}}`,
		`{"id":1}`, `[]`, `null`, ``, `{"id":"c","bundle":"rel"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st, err := ReadState(strings.NewReader(s))
		if err != nil {
			return
		}
		if st.ID == "" || !filepath.IsAbs(st.Bundle) || st.Pid < 0 {
			t.Fatalf("accepted a state without what the hook needs: %+v", st)
		}
		_ = TargetOf(nil, st).String()
		var want state
		if err := json.Unmarshal([]byte(s), &want); err != nil {
			t.Fatalf("accepted %q, encoding/json: %v", s, err)
		}
		if got := (state{ID: st.ID, Status: string(st.Status), Pid: st.Pid, Bundle: st.Bundle, Annotations: st.Annotations}); !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: %+v, encoding/json %+v", s, got, want)
		}
	})
}

// The state's fast decode gives encoding/json's result, and declines what
// it does not take.
func TestDecodeStateFast(t *testing.T) {
	for _, tc := range []struct {
		in   string
		fast bool
	}{
		{`{"ociVersion":"1.2.0","id":"c1","status":"creating","pid":42,"bundle":"/b","annotations":{"a":"b"}}`, true},
		{`{"id":"c\u0031","bundle":"/b\u00e9","pid":-0,"annotations":null}`, true},
		{`{"id":"c","bundle":"/b","pid":1,"Pid":null}`, false},
		{`{"ID":"c","bundle":"/b","pid":9223372036854775807,"future":{"x":[1,2]}}`, true},
		{`{"id":"c","bundle":"/b","pid":9223372036854775808}`, false},
		{`{"id":"c","bundle":"/b","pid":1.0}`, false},
		{`{"id":"c","id":"d","bundle":"/b"}`, false},
		{`{"id":1}`, false},
	} {
		var fast state
		err := decodeStateFast([]byte(tc.in), &fast)
		if (err == nil) != tc.fast {
			t.Errorf("%s: fast path error %v, want taken %v", tc.in, err, tc.fast)
		}
		var slow state
		slowErr := json.Unmarshal([]byte(tc.in), &slow)
		if err == nil && (slowErr != nil || !reflect.DeepEqual(fast, slow)) {
			t.Errorf("%s: fast %+v, encoding/json %+v %v", tc.in, fast, slow, slowErr)
		}
		st, err := ReadState(strings.NewReader(tc.in))
		if slowErr == nil && err == nil && (st.ID != slow.ID || st.Pid != slow.Pid) {
			t.Errorf("%s: ReadState %+v, want %+v", tc.in, st, slow)
		}
	}
}

// FuzzParseSpec: the narrow decode never panics and agrees with a decode
// into the full rspec.Spec on everything the hook reads.
func FuzzParseSpec(f *testing.F) {
	f.Add(`{"linux":{"namespaces":[{"type":"user"}],"uidMappings":[{"containerID":0,"hostID":1,"size":1}]}}`)
	f.Add(`{"linux":{"namespaces":[{"type":"pid"}]}}`)
	f.Add(`{"linux":{}}`)
	f.Add(`{"process":{"user":{"uid":1}},"root":{"path":"r"},"annotations":{"a":"b"}}`)
	f.Add(`{"annotations":{"userns-mode.crio.io":"","io.kubernetes.cri-o.userns-mode":"auto"}}`)
	f.Fuzz(func(t *testing.T, s string) {
		spec, userns, err := ParseSpec([]byte(s))
		var full rspec.Spec
		fullErr := json.Unmarshal([]byte(s), &full)
		if err != nil {
			return
		}
		if k, v := UsernsMode(spec); (k == "") != (v == "") || (k != "" && spec.Annotations[k] != v) {
			t.Fatalf("UsernsMode = %q, %q for annotations %v", k, v, spec.Annotations)
		}
		if fullErr != nil {
			return // the full type is stricter on fields the hook ignores
		}
		if _, ok := UserNamespacePath(&full); ok != userns {
			t.Fatalf("userns %v, full decode %v", userns, ok)
		}
		if full.Linux != nil && !reflect.DeepEqual(full.Linux.UIDMappings, spec.Linux.UIDMappings) {
			t.Fatalf("uid maps differ")
		}
		if full.Process != nil && !reflect.DeepEqual(full.Process.User, spec.Process.User) {
			t.Fatalf("user differs")
		}
	})
}

// UsernsMode reads the annotation as CRI-O's GetAnnotationValue does: the
// v2 key wins even when empty, and an empty value is no mode.
func TestUsernsMode(t *testing.T) {
	for _, tc := range []struct {
		ann        map[string]string
		key, value string
	}{
		{nil, "", ""},
		{map[string]string{"io.kubernetes.pod.name": "p"}, "", ""},
		{map[string]string{AnnotationUsernsModeV1: "auto"}, AnnotationUsernsModeV1, "auto"},
		{map[string]string{AnnotationUsernsMode: "auto:size=65536"}, AnnotationUsernsMode, "auto:size=65536"},
		{map[string]string{AnnotationUsernsMode: "private:x", AnnotationUsernsModeV1: "auto"}, AnnotationUsernsMode, "private:x"},
		{map[string]string{AnnotationUsernsMode: "", AnnotationUsernsModeV1: "auto"}, "", ""},
		{map[string]string{AnnotationUsernsModeV1: ""}, "", ""},
	} {
		if k, v := UsernsMode(&rspec.Spec{Annotations: tc.ann}); k != tc.key || v != tc.value {
			t.Errorf("UsernsMode(%v) = %q, %q; want %q, %q", tc.ann, k, v, tc.key, tc.value)
		}
	}
	if k, v := UsernsMode(nil); k != "" || v != "" {
		t.Errorf("UsernsMode(nil) = %q, %q", k, v)
	}
}
