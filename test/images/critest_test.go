package images

import (
	"strings"
	"testing"
)

// The stand-ins carry what critest's specs check: the USER of the image
// status specs, the supplementary group of the predefined-group spec, and a
// reference for every name critest pulls, minus its registry.
func TestCritestImages(t *testing.T) {
	users := map[string]string{}
	refs := map[string]bool{}
	for _, ci := range critestImages() {
		for _, r := range ci.refs {
			if refs[r] {
				t.Errorf("%s served twice", r)
			}
			refs[r] = true
			users[r] = ci.cfg.User
		}
	}
	for ref, user := range map[string]string{
		critestRegistryOrg + "test-image-user-uid:latest":            "1002",
		critestRegistryOrg + "test-image-user-username:latest":       "www-data",
		critestRegistryOrg + "test-image-user-uid-group:latest":      "1003:1003",
		critestRegistryOrg + "test-image-user-username-group:latest": "www-data:www-data",
		critestRegistryOrg + "test-image-predefined-group:latest":    "1000",
		"e2e-test-images/busybox:1.29-2":                             "",
		"e2e-test-images/nginx:1.14-2":                               "",
		"pause:3.9":                                                  "",
	} {
		if !refs[ref] {
			t.Errorf("no stand-in for %s", ref)
		} else if users[ref] != user {
			t.Errorf("%s: USER %q, want %q", ref, users[ref], user)
		}
	}
	if !strings.Contains(critestGroup, "group1:x:50000:user1") || !strings.Contains(critestPasswd, "user1:x:1000:") {
		t.Errorf("predefined group: uid 1000 must be in group 50000")
	}
}
