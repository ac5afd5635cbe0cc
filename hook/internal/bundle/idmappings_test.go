package bundle

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func TestIDMappings(t *testing.T) {
	for _, tc := range []struct {
		in   string
		fast bool
		want []rspec.LinuxIDMapping
		err  bool
	}{
		{in: `[{"containerID":0,"hostID":200000,"size":65536}]`, fast: true, want: []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}},
		{in: " [ { \"containerID\" : 1 , \"hostID\" : 2 , \"size\" : 3 } ,\n{\"containerID\":0,\"hostID\":4294967295,\"size\":1} ] ", fast: true,
			want: []rspec.LinuxIDMapping{{ContainerID: 1, HostID: 2, Size: 3}, {ContainerID: 0, HostID: 4294967295, Size: 1}}},
		{in: `[]`, fast: true, want: []rspec.LinuxIDMapping{}},
		{in: `null`},
		{in: `[{"hostID":2,"containerID":1,"size":3}]`, want: []rspec.LinuxIDMapping{{ContainerID: 1, HostID: 2, Size: 3}}},
		{in: `[{"ContainerID":1,"hostID":2,"size":3}]`, want: []rspec.LinuxIDMapping{{ContainerID: 1, HostID: 2, Size: 3}}},
		{in: `[{"containerID":1,"hostID":2,"size":3,"containerID":7}]`, want: []rspec.LinuxIDMapping{{ContainerID: 7, HostID: 2, Size: 3}}},
		{in: `[{"containerID":1,"hostID":2,"size":3,"extra":true}]`, want: []rspec.LinuxIDMapping{{ContainerID: 1, HostID: 2, Size: 3}}},
		{in: `[{"containerID":1,"hostID":4294967296,"size":3}]`, err: true},
		{in: `[{"containerID":-1,"hostID":2,"size":3}]`, err: true},
		{in: `[{"containerID":1.5,"hostID":2,"size":3}]`, err: true},
		{in: `[{"containerID":1e2,"hostID":2,"size":3}]`, err: true},
	} {
		_, fast := fastIDMappings([]byte(tc.in))
		var m idMappings
		err := json.Unmarshal([]byte(tc.in), &m)
		if fast != tc.fast || (err != nil) != tc.err || (!tc.err && !reflect.DeepEqual([]rspec.LinuxIDMapping(m), tc.want)) {
			t.Errorf("%s: fast %v, got %v, %v; want fast %v, %v, err %v", tc.in, fast, m, err, tc.fast, tc.want, tc.err)
		}
	}
}

// FuzzIDMappings: whatever the fast reader accepts, encoding/json reads
// the same way.
func FuzzIDMappings(f *testing.F) {
	f.Add(`[{"containerID":0,"hostID":200000,"size":65536}]`)
	f.Add(`[ {"containerID":1,"hostID":2,"size":3} , {"containerID":00,"hostID":2,"size":3} ]`)
	f.Add(`[{"containerID":1,"hostID":2,"size":3}]x`)
	f.Fuzz(func(t *testing.T, s string) {
		fast, ok := fastIDMappings([]byte(s))
		if !ok {
			return
		}
		var std []rspec.LinuxIDMapping
		if err := json.Unmarshal([]byte(s), &std); err != nil {
			t.Fatalf("fast reader accepted %q, encoding/json: %v", s, err)
		}
		if !reflect.DeepEqual(fast, std) {
			t.Fatalf("%q: fast %v, encoding/json %v", s, fast, std)
		}
	})
}

// decimal reads what a byte-by-byte reading of JSON's integer form reads,
// whatever follows (compact checks that itself).
func TestDecimal(t *testing.T) {
	reference := func(b []byte, i int) (uint32, int, bool) {
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		v, err := strconv.ParseUint(string(b[start:i]), 10, 32)
		if err != nil || b[start] == '0' && i-start > 1 {
			return 0, i, false
		}
		return uint32(v), i, true
	}
	rng := rand.New(rand.NewPCG(11, 12))
	tail := []string{"", ",", "}", ".5", "e3", "E", ",\"hostID\":1", "x", "\xff", "/", ":", " ", "00000000"}
	for range 200000 {
		var num []byte
		for range rng.IntN(22) {
			num = append(num, byte('0'+rng.IntN(10)))
		}
		if rng.IntN(4) == 0 && len(num) > 0 {
			num[0] = '0'
		}
		in := append(append([]byte("x"), num...), tail[rng.IntN(len(tail))]...)
		gv, gi, gok := decimal(in, 1)
		wv, wi, wok := reference(in, 1)
		if gok != wok || gi != wi || gok && gv != wv {
			t.Fatalf("%q: decimal = %d, %d, %v; want %d, %d, %v", in, gv, gi, gok, wv, wi, wok)
		}
	}
}

// A map of the kernel's most extents in the form runtimes write, as the
// hook decodes it for such a pod's every container.
func BenchmarkIDMappings340(b *testing.B) {
	maps := make([]rspec.LinuxIDMapping, 340)
	for i := range maps {
		maps[i] = rspec.LinuxIDMapping{ContainerID: uint32(i), HostID: 10000 + uint32(i)*2, Size: 1}
	}
	data, err := json.Marshal(maps)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if got, ok := fastIDMappings(data); !ok || len(got) != len(maps) {
			b.Fatal(len(got), ok)
		}
	}
}
