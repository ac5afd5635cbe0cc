package podrun

import (
	"fmt"
	"strings"
)

// ImageRule rewrites a manifest's image reference to one the node has, so the
// field reports' manifests run unchanged without the internet. From matches
// the whole reference, or a prefix when it ends with "*".
type ImageRule struct {
	From string
	To   string
}

// DefaultImageRules map the field reports' images to the node's stand-ins
// (built by the bench from this project's sources and preloaded into CRI-O's
// storage as localhost/crio-userns/*).
var DefaultImageRules = []ImageRule{
	{From: "registry.fedoraproject.org/fedora*", To: "localhost/crio-userns/fedora-standin:latest"},
	{From: "quay.io/ftweedal/test-multiuser*", To: "localhost/crio-userns/usernstest:latest"},
}

// ParseImageRule reads the --image flag's FROM=TO form.
func ParseImageRule(s string) (ImageRule, error) {
	from, to, ok := strings.Cut(s, "=")
	if !ok || from == "" || to == "" {
		return ImageRule{}, fmt.Errorf("image rule %q: want FROM=TO (FROM may end with *)", s)
	}
	return ImageRule{From: from, To: to}, nil
}

// String renders the rule in its flag form.
func (r ImageRule) String() string { return r.From + "=" + r.To }

// Match reports whether the rule applies to ref.
func (r ImageRule) Match(ref string) bool {
	if prefix, ok := strings.CutSuffix(r.From, "*"); ok {
		return strings.HasPrefix(ref, prefix)
	}
	return ref == r.From
}

// RewriteImage returns the target of the first rule matching ref, or ref
// itself. Rules are tried in order, so callers put explicit rules before the
// defaults to let them take precedence.
func RewriteImage(rules []ImageRule, ref string) string {
	for _, r := range rules {
		if r.Match(ref) {
			return r.To
		}
	}
	return ref
}
