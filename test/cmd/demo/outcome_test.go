package main

import (
	"testing"

	"github.com/crio-userns/crio-userns/test/podrun"
)

func TestSummarizeReadsUsernstestLog(t *testing.T) {
	log := "--- uid_map\n         1     200001      65535\n         0 1000650000          1\n--- gid_map\n         0     200000      65536\n--- status\nSUMMARY switched=5/5 root=ok daemon=ok operator=ok nobody=ok mail=ok\n"
	zero := int32(0)
	res := &podrun.Result{Admitted: true, SandboxID: "x", Containers: []*podrun.ContainerResult{{Created: true, Started: true, ExitCode: &zero, Log: log}}}
	if got, want := summarize(res, nil).cell, "runs, root=1000650000, switched=5/5"; got != want {
		t.Fatalf("cell %q, want %q", got, want)
	}
	failed := &podrun.Result{Admitted: true, SandboxID: "x", Containers: []*podrun.ContainerResult{{CreateError: `rpc error: ... msg="runc create failed: unable to start container process: unable to setup user: cannot set uid to unmapped user in user namespace"`}}}
	if got, want := summarize(failed, nil).cell, "fails: cannot set uid to unmapped user in user namespace"; got != want {
		t.Fatalf("cell %q, want %q", got, want)
	}
	nonRoot := "--- uid_map\n         0  917504      65536\n--- status\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\nSUMMARY switched=0/5 root=fail daemon=fail operator=fail nobody=fail mail=fail\n"
	res = &podrun.Result{Admitted: true, SandboxID: "x", Containers: []*podrun.ContainerResult{{Created: true, Started: true, ExitCode: &zero, Log: nonRoot}}}
	if got, want := summarize(res, nil).cell, "runs, as uid 1000, root=917504, switched=0/5"; got != want {
		t.Fatalf("cell %q, want %q", got, want)
	}
}
