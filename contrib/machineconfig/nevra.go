package machineconfig

import (
	"fmt"
	"net/url"
	"path"
	"strings"
)

// NEVRA names one RPM package build, as `rpm -q` matches it.
type NEVRA struct {
	Name    string
	Epoch   string // empty when not given; RPM file names never carry it
	Version string
	Release string
	Arch    string
}

// String is the form `rpm -q` accepts: NAME-VERSION-RELEASE.ARCH, or
// NAME-EPOCH:VERSION-RELEASE.ARCH when the epoch was given.
func (n NEVRA) String() string {
	evr := n.Version + "-" + n.Release
	if n.Epoch != "" {
		evr = n.Epoch + ":" + evr
	}
	return n.Name + "-" + evr + "." + n.Arch
}

// arches are the architectures RHCOS ships (plus noarch): an RPM file name
// ending in anything else is not NAME-VERSION-RELEASE.ARCH.rpm.
var arches = map[string]bool{"x86_64": true, "aarch64": true, "ppc64le": true, "s390x": true, "noarch": true}

// ParseNEVRA parses NAME-[EPOCH:]VERSION-RELEASE.ARCH, the form `rpm -q`
// prints with --qf '%{NEVRA}' minus a zero epoch.
func ParseNEVRA(s string) (NEVRA, error) {
	bad := func(why string) (NEVRA, error) {
		return NEVRA{}, fmt.Errorf("%q is not NAME-VERSION-RELEASE.ARCH: %s", s, why)
	}
	dot := strings.LastIndexByte(s, '.')
	if dot < 0 {
		return bad("no .ARCH")
	}
	n := NEVRA{Arch: s[dot+1:]}
	if !arches[n.Arch] {
		return bad(fmt.Sprintf("architecture %q is none of x86_64, aarch64, ppc64le, s390x, noarch", n.Arch))
	}
	nvr := s[:dot]
	r := strings.LastIndexByte(nvr, '-')
	if r < 0 {
		return bad("no -RELEASE")
	}
	n.Release = nvr[r+1:]
	nv := nvr[:r]
	v := strings.LastIndexByte(nv, '-')
	if v < 0 {
		return bad("no -VERSION")
	}
	n.Name, n.Version = nv[:v], nv[v+1:]
	if e, ver, ok := strings.Cut(n.Version, ":"); ok {
		n.Epoch, n.Version = e, ver
		if e == "" || strings.Trim(e, "0123456789") != "" {
			return bad(fmt.Sprintf("epoch %q is not a number", e))
		}
	}
	for _, f := range []struct{ what, value, extra string }{
		{"name", n.Name, "-"},
		{"version", n.Version, "~^"},
		{"release", n.Release, "~^"},
	} {
		if f.value == "" {
			return bad("empty " + f.what)
		}
		for _, c := range f.value {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._+"+f.extra, c)) {
				return bad(fmt.Sprintf("%s %q contains %q", f.what, f.value, c))
			}
		}
	}
	return n, nil
}

// NEVRAFromURL derives the NEVRA from the RPM file name at the end of the
// URL's path, NAME-VERSION-RELEASE.ARCH.rpm (the name rpmbuild gives it).
func NEVRAFromURL(rawURL string) (NEVRA, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return NEVRA{}, err
	}
	file := path.Base(u.Path)
	switch {
	case strings.HasSuffix(file, ".src.rpm"):
		return NEVRA{}, fmt.Errorf("%s is a source RPM; rpm-ostree needs the binary RPM", file)
	case !strings.HasSuffix(file, ".rpm"):
		return NEVRA{}, fmt.Errorf("the file name %q does not end in .rpm", file)
	}
	n, err := ParseNEVRA(strings.TrimSuffix(file, ".rpm"))
	if err != nil {
		return NEVRA{}, fmt.Errorf("file name %s: %w", file, err)
	}
	return n, nil
}
