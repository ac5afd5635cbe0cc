package idmap

import (
	"reflect"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func TestParseProcMap(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    []rspec.LinuxIDMapping
		wantErr string
	}{
		{name: "empty", in: "", want: nil},
		{name: "identity", in: "         0          0 4294967295\n", want: []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 0, Size: 4294967295}}},
		{
			name: "map-to-root as the kernel prints it",
			in:   "         1     265536      65535\n         0 1000650000          1\n",
			want: []rspec.LinuxIDMapping{{ContainerID: 1, HostID: 265536, Size: 65535}, {ContainerID: 0, HostID: 1000650000, Size: 1}},
		},
		{name: "blank lines and tabs", in: "\n0\t100\t1\n\n", want: []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 100, Size: 1}}},
		{name: "two fields", in: "0 1\n", wantErr: `line 1: "0 1": want 3 fields`},
		{name: "four fields", in: "0 1 2 3\n", wantErr: "want 3 fields"},
		{name: "not a number", in: "0 x 1\n", wantErr: `line 1: "0 x 1": field 2`},
		{name: "negative", in: "0 -1 1\n", wantErr: "field 2"},
		{name: "above 32 bits", in: "0 4294967296 1\n", wantErr: "value out of range"},
		{name: "error names the line", in: "0 0 1\n1 1\n", wantErr: "line 2:"},
		// Lines of the kernel's width that its fixed-column reader must
		// leave to the general one, or refuse as that one does.
		{name: "kernel width, above 32 bits", in: "         0 4294967296          1\n", wantErr: "value out of range"},
		{name: "kernel width, a blank field", in: "         0                     1\n", wantErr: "want 3 fields"},
		{name: "kernel width, a tab", in: "\t        0     100000      65536\n", want: []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}},
		{name: "kernel width, zero-padded", in: "0000000001 0000100000 0000065536\n", want: []rspec.LinuxIDMapping{{ContainerID: 1, HostID: 100000, Size: 65536}}},
		{name: "kernel width, a sign", in: "        +0     100000      65536\n", wantErr: "field 1"},
		{name: "kernel width, no newline at the end", in: "         0     100000      65536", want: []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseProcMapString(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestFormatProcMapRoundTrip(t *testing.T) {
	in := "         1     265536      65535\n         0 1000650000          1\n"
	maps, err := ParseProcMapString(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := FormatProcMap(maps); got != in {
		t.Fatalf("FormatProcMap = %q, want %q", got, in)
	}
	if got := Triples(maps); !reflect.DeepEqual(got, [][3]uint32{{1, 265536, 65535}, {0, 1000650000, 1}}) {
		t.Fatalf("Triples = %v", got)
	}
}
