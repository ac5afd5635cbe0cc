package idmap

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseRange(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Range
		wantErr string
	}{
		{in: "1000000000-1999999999", want: Range{1000000000, 1999999999}},
		{in: " 5 - 9 ", want: Range{5, 9}},
		{in: "7", want: Range{7, 7}},
		{in: "0-4294967295", want: Range{0, 4294967295}},
		{in: "9-5", wantErr: `range "9-5": last ID 5 is below first ID 9`},
		{in: "", wantErr: `range "": first ID`},
		{in: "a-5", wantErr: `range "a-5": first ID`},
		{in: "5-", wantErr: `range "5-": last ID`},
		{in: "1-2-3", wantErr: `range "1-2-3": last ID`},
		{in: "4294967296", wantErr: "value out of range"},
		{in: "-5", wantErr: "first ID"},
	} {
		got, err := ParseRange(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseRange(%q) error = %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseRange(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestRangeBasics(t *testing.T) {
	r := Range{10, 19}
	if r.Size() != 10 || !r.Contains(10) || !r.Contains(19) || r.Contains(20) || r.Contains(9) {
		t.Fatal("Contains/Size")
	}
	if !r.ContainsRange(Range{12, 19}) || r.ContainsRange(Range{12, 20}) {
		t.Fatal("ContainsRange")
	}
	if got, ok := r.Intersect(Range{15, 30}); !ok || got != (Range{15, 19}) {
		t.Fatalf("Intersect = %v %v", got, ok)
	}
	if _, ok := r.Intersect(Range{20, 30}); ok {
		t.Fatal("disjoint ranges intersect")
	}
	if (Range{0, 4294967295}).Size() != 1<<32 {
		t.Fatal("full range size")
	}
	if s := (Range{3, 3}).String(); s != "3" {
		t.Fatal(s)
	}
	if got := HostRange(m(0, 4294967290, 100)); got != (Range{4294967290, 4294967295}) {
		t.Fatalf("clamped HostRange = %v", got)
	}
	if got := ContainerRange(m(1, 265536, 65535)); got != (Range{1, 65535}) {
		t.Fatalf("ContainerRange = %v", got)
	}
}

func TestMergeRanges(t *testing.T) {
	in := []Range{{20, 30}, {0, 5}, {6, 9}, {25, 40}, {4294967290, 4294967295}, {100, 100}}
	want := []Range{{0, 9}, {20, 40}, {100, 100}, {4294967290, 4294967295}}
	if got := MergeRanges(in); !reflect.DeepEqual(got, want) {
		t.Fatalf("MergeRanges = %v, want %v", got, want)
	}
	if MergeRanges(nil) != nil {
		t.Fatal("nil")
	}
}

func TestUncovered(t *testing.T) {
	allowed := []Range{{200000, 268635455}, {1000000000, 1999999999}}
	for _, tc := range []struct {
		r    Range
		want []Range
	}{
		{Range{200000, 265535}, nil},
		{Range{199990, 200009}, []Range{{199990, 199999}}},
		{Range{268635450, 268635460}, []Range{{268635456, 268635460}}},
		{Range{0, 4294967295}, []Range{{0, 199999}, {268635456, 999999999}, {2000000000, 4294967295}}},
		{Range{5, 5}, []Range{{5, 5}}},
	} {
		if got := Uncovered(allowed, tc.r); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Uncovered(%v) = %v, want %v", tc.r, got, tc.want)
		}
	}
	// Ranges not yet merged are merged first.
	if got := Uncovered([]Range{{1000000000, 1999999999}, {200000, 300000}, {300001, 268635455}}, Range{199990, 268635460}); !reflect.DeepEqual(got, []Range{{199990, 199999}, {268635456, 268635460}}) {
		t.Errorf("unmerged allowed ranges: %v", got)
	}
	if got := Uncovered(nil, Range{1, 2}); !reflect.DeepEqual(got, []Range{{1, 2}}) {
		t.Errorf("no allowed ranges: %v", got)
	}
	if got := Uncovered([]Range{{0, 4294967295}}, Range{0, 4294967295}); got != nil {
		t.Errorf("full cover: %v", got)
	}
}

func TestFormatRanges(t *testing.T) {
	if got := FormatRanges([]Range{{1, 2}, {5, 5}}); got != "1-2, 5" {
		t.Fatal(got)
	}
	if got := FormatRanges(nil); got != "none" {
		t.Fatal(got)
	}
}

func TestContainsIDAndIsZero(t *testing.T) {
	r := Range{First: 5, Last: 4294967295}
	for id, want := range map[int64]bool{-1: false, 4: false, 5: true, 4294967295: true, 4294967296: false} {
		if got := r.ContainsID(id); got != want {
			t.Errorf("ContainsID(%d) = %v", id, got)
		}
	}
	if !(Range{}).IsZero() || (Range{First: 0, Last: 1}).IsZero() {
		t.Error("IsZero")
	}
}
