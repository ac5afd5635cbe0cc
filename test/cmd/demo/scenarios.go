package main

import (
	"github.com/crio-userns/crio-userns/test/podrun"
	"github.com/crio-userns/crio-userns/test/scenarios"
)

// scenario is one row of the demo table: a field report's situation.
type scenario struct {
	title    string
	manifest string
	scc      string
	exec     []string // like `oc rsh pod/x CMD`
}

var demoScenarios = []scenario{
	{"000 auto userns, no runAsUser", scenarios.Example("000-fedora-auto.yaml"), podrun.SCCRestricted, nil},
	{"000 auto userns, runAsUser: 0", scenarios.Example("000-fedora-runasuser-0.yaml"), podrun.SCCRestricted, nil},
	{"000 map-to-root, pod runAsUser set", scenarios.Example("000-fedora-map-to-root.yaml"), podrun.SCCRestricted, []string{"cat", "/proc/self/uid_map"}},
	{"000 map-to-root, no runAsUser", scenarios.Example("000-fedora-map-to-root-no-runasuser.yaml"), podrun.SCCRestricted, []string{"cat", "/proc/self/uid_map"}},
	{"000+004 multi-user, pod runAsUser set", scenarios.Path("000-usernstest-map-to-root.yaml"), podrun.SCCRestricted, nil},
	{"000+004 multi-user, no runAsUser", scenarios.Path("000-usernstest-no-runasuser.yaml"), podrun.SCCRestricted, nil},
	{"000+004 multi-user, no runAsUser", scenarios.Path("000-usernstest-no-runasuser.yaml"), podrun.SCCRestrictedV2, nil},
	{"004 multi-user, runAsUser: 0 (anyuid)", scenarios.Example("004-multiuser-test.yaml"), podrun.SCCAnyUID, nil},
	// OpenShift 4.20+'s own user-namespace SCCs, which need hostUsers: false.
	{"004 multi-user, hostUsers: false, runAsUser: 0", scenarios.Path("004-multiuser-hostusers-false.yaml"), podrun.SCCRestrictedV3, nil},
	{"004 multi-user, hostUsers: false, no runAsUser", scenarios.Path("004-multiuser-hostusers-false-no-runasuser.yaml"), podrun.SCCRestrictedV3, nil},
	{"004 multi-user, hostUsers: false, runAsUser: 0", scenarios.Path("004-multiuser-hostusers-false.yaml"), podrun.SCCNestedContainer, nil},
}
