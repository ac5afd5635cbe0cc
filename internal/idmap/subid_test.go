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

// A stray line is kept apart, under the owner its first field names; only
// that owner's ranges are in doubt.
func TestParseSubIDFile(t *testing.T) {
	in := "core:100000:65536\ngarbage\ncontainers:200000:65536\n0:300000:65536\nkubelet:1\ncontainers:x:1\n" + strings.Repeat("y", 100) + "\n"
	f, err := ParseSubIDFile(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Entries) != 3 || len(f.Bad) != 4 {
		t.Fatalf("entries %+v, bad %+v", f.Entries, f.Bad)
	}
	wantBad := []string{
		`line 2: "garbage": want 3 colon-separated fields (owner:start:count), got 1`,
		`line 5: "kubelet:1": want 3 colon-separated fields (owner:start:count), got 2`,
		`line 6: "containers:x:1": start: strconv.ParseUint: parsing "x": invalid syntax`,
		`line 7: "` + strings.Repeat("y", 80) + `...": want 3 colon-separated fields (owner:start:count), got 1`,
	}
	for i, b := range f.Bad {
		if b.Error() != wantBad[i] {
			t.Errorf("bad line %d: %q, want %q", i, b.Error(), wantBad[i])
		}
	}
	if !f.HasNumericOwners() {
		t.Error("HasNumericOwners = false")
	}
	for _, tc := range []struct {
		owner, uid string
		ranges     []Range
		bad        []int // line numbers
	}{
		{owner: "core", ranges: []Range{{100000, 165535}}},
		{owner: "containers", ranges: []Range{{200000, 265535}}, bad: []int{6}},
		{owner: "containers", uid: "0", ranges: []Range{{200000, 265535}, {300000, 365535}}, bad: []int{6}},
		{owner: "kubelet", bad: []int{5}},
		{owner: "garbage", bad: []int{2}},
		{owner: "nobody"},
	} {
		rs, bad := f.Owned(tc.owner, tc.uid)
		var lines []int
		for _, b := range bad {
			lines = append(lines, b.Line)
		}
		if !reflect.DeepEqual(rs, tc.ranges) || !reflect.DeepEqual(lines, tc.bad) {
			t.Errorf("Owned(%q, %q) = %v, bad lines %v; want %v, %v", tc.owner, tc.uid, rs, lines, tc.ranges, tc.bad)
		}
	}
	if _, err := ParseSubIDFile(strings.NewReader("a:1:" + strings.Repeat("1", 5000))); err == nil || !strings.Contains(err.Error(), "token too long") {
		t.Errorf("long line: %v", err)
	}
	if g, _ := ParseSubIDFile(strings.NewReader("core:1:1\n")); g.HasNumericOwners() {
		t.Error("HasNumericOwners without one")
	}
	if got := (SubID{Owner: "containers", Start: 200000, Count: 65536}).String(); got != "containers:200000:65536" {
		t.Errorf("String = %q", got)
	}
}
