package idmap

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseSubID(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    []SubID
		wantErr string
	}{
		{name: "empty", in: ""},
		{
			name: "openshift machine config",
			in:   "core:100000:65536\ncontainers:200000:268435456\n",
			want: []SubID{{"core", 100000, 65536, 1}, {"containers", 200000, 268435456, 2}},
		},
		{name: "comments and blanks", in: "# c\n\n  containers:1:2  \n", want: []SubID{{"containers", 1, 2, 3}}},
		{name: "numeric owner", in: "1000:5:5", want: []SubID{{"1000", 5, 5, 1}}},
		{name: "two fields", in: "containers:200000\n", wantErr: `line 1: "containers:200000": want 3 colon-separated fields`},
		{name: "empty owner", in: ":1:1\n", wantErr: `line 1: ":1:1": empty owner`},
		{name: "bad start", in: "a:x:1\n", wantErr: `line 1: "a:x:1": start`},
		{name: "bad count", in: "a:1:-1\n", wantErr: `line 1: "a:1:-1": count`},
		{name: "zero count", in: "a:1:0\n", wantErr: "count is 0"},
		{name: "start above 32 bits", in: "a:4294967296:1\n", wantErr: "value out of range"},
		{name: "end past max ID", in: "a:4294967295:1\n", wantErr: "range ends at 4294967295, past the highest ID 4294967294"},
		{name: "error names the line", in: "a:1:1\nb:2\n", wantErr: "line 2:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseSubID(strings.NewReader(tc.in))
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

func TestSubIDRanges(t *testing.T) {
	e, err := ParseSubID(strings.NewReader("core:100000:65536\ncontainers:200000:100\ncontainers:200100:50\n0:7:1\ncontainers:1:1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := SubIDRanges(e, "containers", ""); !reflect.DeepEqual(got, []Range{{1, 1}, {200000, 200149}}) {
		t.Fatalf("containers = %v", got)
	}
	if got := SubIDRanges(e, "root", "0"); !reflect.DeepEqual(got, []Range{{7, 7}}) {
		t.Fatalf("root by uid = %v", got)
	}
	if got := SubIDRanges(e, "nobody", ""); got != nil {
		t.Fatalf("nobody = %v", got)
	}
}
