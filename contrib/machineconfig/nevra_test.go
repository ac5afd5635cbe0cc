package machineconfig

import (
	"strings"
	"testing"
)

func TestParseNEVRA(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want NEVRA
		err  string
	}{
		{in: "cri-o-1.36.3-990.userns.1.el9.x86_64", want: NEVRA{Name: "cri-o", Version: "1.36.3", Release: "990.userns.1.el9", Arch: "x86_64"}},
		{in: "runc-1.0.3-992.rhaos4.10.el8.x86_64", want: NEVRA{Name: "runc", Version: "1.0.3", Release: "992.rhaos4.10.el8", Arch: "x86_64"}},
		{in: "crio-userns-hook-0.1.0-1.el9.aarch64", want: NEVRA{Name: "crio-userns-hook", Version: "0.1.0", Release: "1.el9", Arch: "aarch64"}},
		{in: "cri-o-0:1.36.3-990.el9.s390x", want: NEVRA{Name: "cri-o", Epoch: "0", Version: "1.36.3", Release: "990.el9", Arch: "s390x"}},
		{in: "cri-o-1.36.3~rc1-990.el9.ppc64le", want: NEVRA{Name: "cri-o", Version: "1.36.3~rc1", Release: "990.el9", Arch: "ppc64le"}},
		{in: "cri-o-1.36.3-990.el9", err: `architecture "el9"`},
		{in: "cri-o.x86_64", err: "no -VERSION"},
		{in: "crio.x86_64", err: "no -RELEASE"},
		// Ambiguous without the release; the package name check catches it.
		{in: "cri-o-1.36.3.x86_64", want: NEVRA{Name: "cri", Version: "o", Release: "1.36.3", Arch: "x86_64"}},
		{in: "-1.36.3-990.el9.x86_64", err: "empty name"},
		{in: "cri-o--990.el9.x86_64", err: "empty version"},
		{in: "cri-o-x:1.36.3-990.el9.x86_64", err: `epoch "x"`},
		{in: "cri o-1.36.3-990.el9.x86_64", err: `contains ' '`},
		{in: "cri-o-1.36$3-990.el9.x86_64", err: `contains '$'`},
		{in: "x86_64", err: "no .ARCH"},
	} {
		got, err := ParseNEVRA(tc.in)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseNEVRA(%q) = %+v, %v; want error containing %q", tc.in, got, err, tc.err)
			}
		case err != nil || got != tc.want:
			t.Errorf("ParseNEVRA(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		case got.String() != tc.in:
			t.Errorf("ParseNEVRA(%q).String() = %q", tc.in, got.String())
		}
	}
}

func TestNEVRAFromURL(t *testing.T) {
	for _, tc := range []struct {
		url, want, err string
	}{
		{url: "https://example.com/cri-o-1.36.3-990.userns.1.el9.x86_64.rpm", want: "cri-o-1.36.3-990.userns.1.el9.x86_64"},
		{url: "https://example.com/a/b/cri-o-1.36.3-990.el9.x86_64.rpm?X-Amz-Signature=abc#frag", want: "cri-o-1.36.3-990.el9.x86_64"},
		{url: "https://example.com/a%20b/cri-o-1.36.3-990.el9.x86_64.rpm", want: "cri-o-1.36.3-990.el9.x86_64"},
		{url: "https://example.com/download?file=cri-o-1.36.3-990.el9.x86_64.rpm", err: `"download" does not end in .rpm`},
		{url: "https://example.com/cri-o-1.36.3-990.el9.src.rpm", err: "source RPM"},
		{url: "https://example.com/cri-o.rpm", err: "not NAME-VERSION-RELEASE.ARCH"},
	} {
		got, err := NEVRAFromURL(tc.url)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("NEVRAFromURL(%q) = %v, %v; want error containing %q", tc.url, got, err, tc.err)
			}
		case err != nil || got.String() != tc.want:
			t.Errorf("NEVRAFromURL(%q) = %v, %v; want %s", tc.url, got, err, tc.want)
		}
	}
}

func TestSubIDRange(t *testing.T) {
	r, err := ParseSubIDRange("200000:268435456")
	if err != nil || r != DefaultSubIDRange || FlagValue(r) != "200000:268435456" {
		t.Errorf("ParseSubIDRange = %v, %v", r, err)
	}
	if r.Range().First != 200000 || r.Range().Last != 268635455 {
		t.Errorf("Range = %v", r.Range())
	}
	for _, bad := range []string{"", "200000", "a:1", "1:b", "1:4294967296", "-1:5"} {
		if _, err := ParseSubIDRange(bad); err == nil {
			t.Errorf("ParseSubIDRange(%q) accepted", bad)
		}
	}
	if got := string(subIDFile(DefaultSubIDRange, true)); got != "core:100000:65536\ncontainers:200000:268435456\n" {
		t.Errorf("subIDFile = %q", got)
	}
	if got := string(subIDFile(DefaultSubIDRange, false)); got != "containers:200000:268435456\n" {
		t.Errorf("subIDFile without core = %q", got)
	}
}

func TestProjectRootRanges(t *testing.T) {
	for policy, want := range map[string]string{
		`project_root_range = "none"`:                  "",
		`project_root_range = "1000000000-1999999999"`: "1000000000-1999999999",
		`project_root_range = "5000-6000"`:             "5000-6000",
		`mode = "enforce"`:                             "1000000000-1999999999", // absent: the hook's default
	} {
		rs, err := projectRootRanges([]byte(policy))
		if err != nil {
			t.Fatalf("%s: %v", policy, err)
		}
		var got []string
		for _, r := range rs {
			got = append(got, r.String())
		}
		if strings.Join(got, ",") != want {
			t.Errorf("%s: %v, want %s", policy, got, want)
		}
	}
	if _, err := projectRootRanges([]byte(`project_root_range = "x"`)); err == nil {
		t.Error("bad range accepted")
	}
}
