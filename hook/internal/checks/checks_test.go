package checks

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crio-userns/crio-userns/internal/accounts"
	"github.com/crio-userns/crio-userns/internal/idmap"
)

func mp(ms ...uint32) []rspec.LinuxIDMapping {
	var out []rspec.LinuxIDMapping
	for i := 0; i+2 < len(ms); i += 3 {
		out = append(out, rspec.LinuxIDMapping{ContainerID: ms[i], HostID: ms[i+1], Size: ms[i+2]})
	}
	return out
}

func reasons(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Reason)
	}
	return out
}

var project = &idmap.Range{First: 1000000000, Last: 1999999999}

func TestCheckStructure(t *testing.T) {
	if got := CheckStructure(UID, nil, true); got != nil {
		t.Errorf("joined namespace with no maps: %v", got)
	}
	got := CheckStructure(GID, nil, false)
	if len(got) != 1 || got[0].Reason != "user namespace requested with an empty gid_map (no linux.gidMappings)" {
		t.Errorf("empty map: %v", reasons(got))
	}
	got = CheckStructure(UID, mp(0, 1, 0, 0, 1, 5), false)
	if len(got) != 1 || got[0].Reason != "uid_map extent #1 (0 1 0) has size 0" || got[0].Extent != "0 1 0" {
		t.Errorf("zero size: %v", reasons(got))
	}
}

// The structure check of a container whose gid map is its uid map, as
// they are as a rule, reports each problem for both maps; of one whose
// maps differ, each map's own.
func TestRunStructure(t *testing.T) {
	bad := mp(0, 100, 10, 5, 200, 10, 20, 300, 0)
	good := mp(0, 100, 10)
	for _, tc := range []struct {
		name       string
		uids, gids []rspec.LinuxIDMapping
		want       []string
	}{
		{"same maps", bad, mp(0, 100, 10, 5, 200, 10, 20, 300, 0), []string{
			"uid_map extent #3 (20 300 0) has size 0",
			"uid_map extents #1 (0 100 10) and #2 (5 200 10) overlap on the container side (IDs 5-9)",
			"gid_map extent #3 (20 300 0) has size 0",
			"gid_map extents #1 (0 100 10) and #2 (5 200 10) overlap on the container side (IDs 5-9)",
		}},
		{"bad uid map", bad, good, []string{
			"uid_map extent #3 (20 300 0) has size 0",
			"uid_map extents #1 (0 100 10) and #2 (5 200 10) overlap on the container side (IDs 5-9)",
		}},
		{"bad gid map", good, bad, []string{
			"gid_map extent #3 (20 300 0) has size 0",
			"gid_map extents #1 (0 100 10) and #2 (5 200 10) overlap on the container side (IDs 5-9)",
		}},
		{"same good maps", good, mp(0, 100, 10), nil},
		{"empty maps", nil, nil, []string{
			"user namespace requested with an empty uid_map (no linux.uidMappings)",
			"user namespace requested with an empty gid_map (no linux.gidMappings)",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := runStructure(&Input{UIDs: tc.uids, GIDs: tc.gids})
			if r := reasons(got.Findings); !reflect.DeepEqual(r, tc.want) {
				t.Errorf("got %q\nwant %q", r, tc.want)
			}
			for _, f := range got.Findings {
				if !strings.HasPrefix(f.Reason, f.Map+" ") && !strings.Contains(f.Reason, "empty "+f.Map) {
					t.Errorf("finding of %s: %q", f.Map, f.Reason)
				}
			}
		})
	}
}

func TestCheckHostRoot(t *testing.T) {
	for _, tc := range []struct {
		maps  []rspec.LinuxIDMapping
		allow bool
		want  []string
	}{
		{mp(0, 200000, 65536), false, nil},
		{mp(0, 0, 1), true, nil},
		{mp(0, 0, 1), false, []string{"uid_map extent #1 (0 0 1) maps host UID 0 (root) to container UID 0"}},
		{mp(0, 1, 10, 10, 0, 1), false, []string{"uid_map extent #2 (10 0 1) maps host UID 0 (root) to container UID 10"}},
		{mp(0, 0, 0), false, nil}, // size 0: check 1's
	} {
		if got := reasons(CheckHostRoot(UID, tc.maps, tc.allow)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("CheckHostRoot(%v, %v) = %v, want %v", tc.maps, tc.allow, got, tc.want)
		}
	}
}

func TestCheckAllowedRanges(t *testing.T) {
	a := Allowed{Ranges: []idmap.Range{{First: 200000, Last: 299999}}, Source: "S", RootRange: project, PolicyKey: "allowed_uids"}
	tail := " outside the allowed ranges (200000-299999 from S; single-ID root extents also 1000000000-1999999999)"
	for _, tc := range []struct {
		maps []rspec.LinuxIDMapping
		want []string
	}{
		{mp(0, 200000, 100000), nil},
		{mp(1, 200000, 65535, 0, 1000650000, 1), nil},
		{mp(0, 299990, 20), []string{"uid_map extent #1 (0 299990 20) uses host UIDs 300000-300009" + tail}},
		{mp(0, 100000, 300000), []string{"uid_map extent #1 (0 100000 300000) uses host UIDs 100000-199999, 300000-399999" + tail}},
		{mp(0, 2000000000, 1), []string{"uid_map extent #1 (0 2000000000 1) uses host UIDs 2000000000" + tail}},
		{mp(1, 1000650000, 1), []string{"uid_map extent #1 (1 1000650000 1) uses host UIDs 1000650000" + tail}},
	} {
		if got := reasons(CheckAllowedRanges(UID, tc.maps, a, Origin{})); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("CheckAllowedRanges(%v):\n got %v\nwant %v", tc.maps, got, tc.want)
		}
	}
	none := CheckAllowedRanges(GID, mp(0, 1000650000, 1), Allowed{Source: "/etc/subgid entries of \"containers\" (file missing)", PolicyKey: "allowed_gids"}, Origin{})
	if len(none) != 1 || !strings.Contains(none[0].Reason, "(none from /etc/subgid entries of \"containers\" (file missing))") || !strings.Contains(none[0].Fix, "allowed_gids") {
		t.Errorf("no ranges: %+v", none)
	}
}

// Extents of one map are judged each on its own: the allowed range that
// held the extent before lets the next through only when it holds it too.
func TestCheckAllowedRangesPerExtent(t *testing.T) {
	a := Allowed{Ranges: []idmap.Range{{First: 1000, Last: 1999}, {First: 3000, Last: 3999}}, Source: "S", RootRange: &idmap.Range{First: 5000, Last: 5999}, PolicyKey: "allowed_uids"}
	alone := func(maps []rspec.LinuxIDMapping, i int) []Finding {
		// Zero-size extents before it keep its number and are skipped.
		return CheckAllowedRanges(UID, append(make([]rspec.LinuxIDMapping, i), maps[i]), a, Origin{})
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for round := range 3000 {
		var maps []rspec.LinuxIDMapping
		host := uint32(900)
		for i := range 1 + rng.IntN(12) {
			if round%2 == 0 {
				host = 900 + rng.Uint32N(5200)
			}
			maps = append(maps, rspec.LinuxIDMapping{ContainerID: uint32(i) * rng.Uint32N(2), HostID: host, Size: 1 + rng.Uint32N(300)})
			host += rng.Uint32N(400)
		}
		var want []string
		for i := range maps {
			want = append(want, reasons(alone(maps, i))...)
		}
		if got := reasons(CheckAllowedRanges(UID, maps, a, Origin{})); !reflect.DeepEqual(got, want) {
			t.Fatalf("%v:\n got %q\nwant %q", maps, got, want)
		}
	}
}

func TestOriginOf(t *testing.T) {
	k := mp(0, 1<<31, 65536)
	for _, tc := range []struct {
		name       string
		annotation string
		uids, gids []rspec.LinuxIDMapping
		shaped     bool
	}{
		{"kubelet block", "", k, k, true},
		{"kubelet block of a custom idsPerPod", "", mp(0, 1<<20, 1<<20), mp(0, 1<<20, 1<<20), true},
		{"kubelet block with the annotation", "userns-mode.crio.io", k, k, true},
		{"UIDs and GIDs differ", "", k, mp(0, 1<<31+65536, 65536), false},
		{"two extents", "", mp(0, 1<<31, 1, 1, 1<<31+1, 65535), mp(0, 1<<31, 1, 1, 1<<31+1, 65535), false},
		{"container side not 0", "", mp(1, 1<<31, 65536), mp(1, 1<<31, 65536), false},
		{"host start not a multiple of 65536", "", mp(0, 200000, 65536), mp(0, 200000, 65536), false},
		{"size not a multiple of 65536", "", mp(0, 1<<31, 65535), mp(0, 1<<31, 65535), false},
		{"empty size", "", mp(0, 1<<31, 0), mp(0, 1<<31, 0), false},
		{"no maps", "", nil, nil, false},
	} {
		o := OriginOf(tc.annotation, tc.uids, tc.gids)
		if o.KubeletShaped != tc.shaped || o.Annotation != tc.annotation || o.Native() != (tc.shaped && tc.annotation == "") {
			t.Errorf("%s: OriginOf = %+v (native %v), want shaped %v", tc.name, o, o.Native(), tc.shaped)
		}
	}
}

// Check 3 for native Kubernetes user namespaces (hostUsers: false): the
// kubelet's range is allowed to them, and to them only.
func TestCheckAllowedRangesKubelet(t *testing.T) {
	a := Allowed{
		Ranges: []idmap.Range{{First: 200000, Last: 299999}}, Source: "S", RootRange: project, PolicyKey: "allowed_uids",
		Kubelet: &KubeletAllowed{Ranges: []idmap.Range{{First: 65536, Last: 4294967295}}, Source: "K"},
	}
	native := Origin{KubeletShaped: true}
	annotated := Origin{Annotation: "io.kubernetes.cri-o.userns-mode", KubeletShaped: true}
	const (
		tail        = " outside the allowed ranges (200000-299999 from S; single-ID root extents also 1000000000-1999999999)"
		fixDefault  = `allocate host IDs from the allowed ranges (userns-mode "auto" takes them from the subid file) or add the range to allowed_uids in the policy`
		fixNative   = `the kubelet allocates hostUsers: false pods from the "kubelet" entries of the subid files (read with getsubids) or else from 65536-4294967295: set kubelet_subid_owner or kubelet_default_range in the policy to the node kubelet's range, or add the range to allowed_uids in the policy`
		fixAnnotate = `the kubelet's range (65536-4294967295 from K) is only for native user namespaces, which carry no userns-mode annotation: drop the io.kubernetes.cri-o.userns-mode annotation from a hostUsers: false pod, or ` + fixDefault
	)
	for _, tc := range []struct {
		name    string
		maps    []rspec.LinuxIDMapping
		origin  Origin
		a       Allowed
		reason  string
		wantFix string
	}{
		{name: "native block in the kubelet's default range", maps: mp(0, 1<<31, 65536), origin: native, a: a},
		{name: "native block overlapping the allowed ranges", maps: mp(0, 196608, 65536), origin: native, a: a},
		{name: "native block below the kubelet's range", maps: mp(0, 0, 65536), origin: native,
			a:      Allowed{Ranges: a.Ranges, Source: "S", PolicyKey: "allowed_uids", Kubelet: &KubeletAllowed{Ranges: []idmap.Range{{First: 1 << 20, Last: 1<<20 + 110*65536 - 1}}, Source: `/etc/subuid entries of "kubelet"`}},
			reason: `uid_map extent #1 (0 0 65536) uses host UIDs 0-65535 outside the allowed ranges (200000-299999 from S; native user namespaces (hostUsers: false) also 1048576-8257535 from /etc/subuid entries of "kubelet")`, wantFix: fixNative},
		{name: "native block outside a kubelet subid range", maps: mp(0, 1<<31, 65536), origin: native,
			a:      Allowed{Ranges: a.Ranges, Source: "S", RootRange: project, PolicyKey: "allowed_uids", Kubelet: &KubeletAllowed{Ranges: []idmap.Range{{First: 1 << 20, Last: 1<<20 + 110*65536 - 1}}, Source: `/etc/subuid entries of "kubelet"`}},
			reason: `uid_map extent #1 (0 2147483648 65536) uses host UIDs 2147483648-2147549183 outside the allowed ranges (200000-299999 from S; single-ID root extents also 1000000000-1999999999; native user namespaces (hostUsers: false) also 1048576-8257535 from /etc/subuid entries of "kubelet")`, wantFix: fixNative},
		{name: "native block with kubelet_default_range none", maps: mp(0, 1<<31, 65536), origin: native,
			a:      Allowed{Ranges: a.Ranges, Source: "S", PolicyKey: "allowed_uids", Kubelet: &KubeletAllowed{Source: `kubelet_default_range (no "kubelet" entry in /etc/subuid)`}},
			reason: `uid_map extent #1 (0 2147483648 65536) uses host UIDs 2147483648-2147549183 outside the allowed ranges (200000-299999 from S; native user namespaces (hostUsers: false) also none from kubelet_default_range (no "kubelet" entry in /etc/subuid))`, wantFix: fixNative},
		{name: "kubelet range disabled (kubelet_subid_owner none)", maps: mp(0, 1<<31, 65536), origin: native,
			a:      Allowed{Ranges: a.Ranges, Source: "S", RootRange: project, PolicyKey: "allowed_uids"},
			reason: "uid_map extent #1 (0 2147483648 65536) uses host UIDs 2147483648-2147549183" + tail, wantFix: fixDefault},
		{name: "annotation imitating the kubelet's shape", maps: mp(0, 1<<31, 65536), origin: annotated, a: a,
			reason: "uid_map extent #1 (0 2147483648 65536) uses host UIDs 2147483648-2147549183" + tail, wantFix: fixAnnotate},
		{name: "annotation mapping inside the kubelet's range, another shape", maps: mp(0, 300000, 65536),
			origin: Origin{Annotation: "userns-mode.crio.io"}, a: a,
			reason: "uid_map extent #1 (0 300000 65536) uses host UIDs 300000-365535" + tail, wantFix: fixDefault},
		{name: "no annotation but not the kubelet's shape (crio.conf uid_mappings)", maps: mp(0, 300000, 65536), origin: Origin{}, a: a,
			reason: "uid_map extent #1 (0 300000 65536) uses host UIDs 300000-365535" + tail, wantFix: fixDefault},
		{name: "annotation, kubelet shape, outside the kubelet's range too", maps: mp(0, 0, 65536), origin: annotated, a: a,
			reason: "uid_map extent #1 (0 0 65536) uses host UIDs 0-65535" + tail, wantFix: fixDefault},
	} {
		got := CheckAllowedRanges(UID, tc.maps, tc.a, tc.origin)
		if tc.reason == "" {
			if got != nil {
				t.Errorf("%s: %v", tc.name, reasons(got))
			}
			continue
		}
		if len(got) != 1 || got[0].Reason != tc.reason || got[0].Fix != tc.wantFix || got[0].Check != AllowedRanges || got[0].Map != "uid_map" {
			t.Errorf("%s:\n got %+v\nwant reason %q\n     fix    %q", tc.name, got, tc.reason, tc.wantFix)
		}
	}
}

func TestCheckProcessUser(t *testing.T) {
	u := mp(1, 200000, 65535, 0, 1000650000, 1)
	g := mp(0, 200000, 65536)
	if got := CheckProcessUser(&rspec.Process{User: rspec.User{UID: 0, GID: 0, AdditionalGids: []uint32{65535}}}, u, g, project); got != nil {
		t.Errorf("mapped user: %v", reasons(got))
	}
	if got := CheckProcessUser(nil, u, g, project); got != nil {
		t.Errorf("no process: %v", got)
	}
	got := CheckProcessUser(&rspec.Process{User: rspec.User{UID: 70000, GID: 1000650000, AdditionalGids: []uint32{1, 65536}}}, u, g, project)
	want := []string{
		"process user UID 70000 is not mapped in the uid_map (1 200000 65535, 0 1000650000 1)",
		"process user GID 1000650000 is not mapped in the gid_map (0 200000 65536)",
		"additional GID 65536 is not mapped in the gid_map (0 200000 65536)",
	}
	if !reflect.DeepEqual(reasons(got), want) {
		t.Fatalf("got %v", reasons(got))
	}
	if got[0].Fix != "run as a UID the uid_map covers (0-65535) or widen the mapping" {
		t.Errorf("fix 0: %s", got[0].Fix)
	}
	if !strings.HasPrefix(got[1].Fix, "set the pod-level securityContext.runAsGroup to 1000650000 so that map-to-root maps it to container GID 0") {
		t.Errorf("fix 1: %s", got[1].Fix)
	}
}

func TestCheckLiveMaps(t *testing.T) {
	spec := mp(1, 200000, 65535, 0, 1000650000, 1)
	if got := CheckLiveMaps(UID, spec, mp(0, 1000650000, 1, 1, 200000, 65535), 7, false); got != nil {
		t.Errorf("reordered: %v", reasons(got))
	}
	if got := CheckLiveMaps(UID, nil, mp(0, 1, 1), 7, true); got != nil {
		t.Errorf("joined without spec maps: %v", reasons(got))
	}
	got := CheckLiveMaps(GID, mp(0, 200000, 65536), mp(0, 0, 4294967295), 7, true)
	if len(got) != 1 || got[0].Reason != "live gid_map of pid 7 (0 0 4294967295) differs from config.json's gidMappings (0 200000 65536)" ||
		got[0].Fix != "the pod's pinned user namespace has another mapping than config.json: recreate the pod" {
		t.Errorf("differs: %+v", got)
	}
	many := make([]rspec.LinuxIDMapping, 8)
	for i := range many {
		many[i] = rspec.LinuxIDMapping{ContainerID: uint32(i), HostID: 1000 + uint32(i)*10, Size: 1}
	}
	if s := FormatMap(many); s != "0 1000 1, 1 1010 1, 2 1020 1, 3 1030 1, 4 1040 1, ... 3 more" {
		t.Errorf("FormatMap = %q", s)
	}
}

func TestCheckImageAccounts(t *testing.T) {
	img := Image{
		Users:  []accounts.User{{Name: "root"}, {Name: "nobody", UID: 65534, GID: 65534}, {Name: "big", UID: 200000, GID: 0}},
		Groups: []accounts.Group{{Name: "root"}, {Name: "nobody", GID: 65534}},
	}
	got := CheckImageAccounts(img, mp(0, 200000, 65536), mp(0, 200000, 65536), Warning)
	if len(got) != 1 || got[0].Severity != Warning ||
		got[0].Reason != "image accounts outside the uid_map (0 200000 65536): big (UID 200000)" ||
		got[0].Fix != `map container IDs 0-200000 (a size of at least 200001, e.g. userns-mode "auto:size=262144"), or drop the accounts from the image` {
		t.Errorf("got %+v", got)
	}
	var users []accounts.User
	for i := range 12 {
		users = append(users, accounts.User{Name: "u" + string(rune('a'+i)), UID: 70000 + uint32(i), GID: 0})
	}
	got = CheckImageAccounts(Image{Users: users}, mp(0, 200000, 65536), mp(0, 200000, 65536), Error)
	if len(got) != 1 || !strings.HasSuffix(got[0].Reason, "uh (UID 70007), and 4 more") {
		t.Errorf("long list: %v", reasons(got))
	}
	got = CheckImageAccounts(Image{PasswdErr: errors.New("boom")}, mp(0, 1, 1), mp(0, 1, 1), Error)
	if len(got) != 1 || got[0].Reason != "cannot read the image's /etc/passwd: boom" {
		t.Errorf("unreadable: %v", reasons(got))
	}
	if got := CheckImageAccounts(Image{}, mp(0, 1, 1), mp(0, 1, 1), Error); got != nil {
		t.Errorf("scratch image: %v", got)
	}
}

func TestCheckCrossPod(t *testing.T) {
	got := CheckCrossPod([]Overlap{{Map: "gid_map", MineIndex: 0, Mine: "0 200000 10", Theirs: "0 200005 10", Shared: idmap.Range{First: 200005, Last: 200009}, OtherPod: "ns/p", OtherCtr: "c"}})
	if len(got) != 1 || got[0].Reason != "host GIDs 200005-200009 of gid_map extent #1 (0 200000 10) are already used by pod ns/p (container c, extent 0 200005 10)" {
		t.Errorf("got %v", reasons(got))
	}
	if ids := []string{Structure.String(), CrossPod.String(), ID(99).String()}; !reflect.DeepEqual(ids, []string{"structure", "cross-pod-overlap", "check-99"}) {
		t.Errorf("names %v", ids)
	}
}
