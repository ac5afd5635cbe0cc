package main

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/crio-userns/crio-userns/internal/idmap"
	"github.com/crio-userns/crio-userns/test/podrun"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// outcome is what one scenario did on one node, reduced to what the table shows.
type outcome struct {
	cell    string // the table cell
	uidMap  string // the first container's uid_map as the kernel prints it
	execOut string
}

// keyPhrases are the parts of long runtime errors that say what went wrong.
var keyPhrases = []string{
	"cannot set uid to unmapped user in user namespace", // runc
	"cannot setresuid to",                               // crun
	"must be in the ranges",
	"set spec.securityContext.runAsUser",
}

var summaryRE = regexp.MustCompile(`(?m)^SUMMARY (switched=\d/5)`)

// statusUID is the real UID in usernstest's copy of /proc/self/status: the
// container's user inside its user namespace.
var statusUID = regexp.MustCompile(`(?m)^Uid:\s+(\d+)\s`)

func summarize(res *podrun.Result, err error) outcome {
	switch {
	case err != nil:
		return outcome{cell: "harness error: " + err.Error()}
	case !res.Admitted:
		return outcome{cell: "rejected by SCC: " + keyWords(res.AdmissionError)}
	case res.SandboxError != "":
		return outcome{cell: "sandbox fails: " + keyWords(res.SandboxError)}
	}
	var o outcome
	var parts []string
	for _, c := range res.Containers {
		switch {
		case !c.Created:
			return outcome{cell: "fails: " + keyWords(c.CreateError)}
		case !c.Started:
			return outcome{cell: "fails to start: " + keyWords(c.StartError)}
		case c.ExitCode != nil && *c.ExitCode != 0:
			parts = append(parts, fmt.Sprintf("exits %d", *c.ExitCode))
		default:
			parts = append(parts, "runs")
		}
		if m := statusUID.FindStringSubmatch(c.Log); m != nil && m[1] != "0" {
			parts = append(parts, "as uid "+m[1])
		}
		maps := toMappings(c.UIDMapSeen())
		if o.uidMap == "" && len(maps) > 0 {
			o.uidMap = idmap.FormatProcMap(maps)
		}
		if host, ok := idmap.ToHost(maps, 0); ok {
			parts = append(parts, fmt.Sprintf("root=%d", host))
		}
		if m := summaryRE.FindStringSubmatch(c.Log); m != nil {
			parts = append(parts, m[1])
		}
		if c.Exec != nil {
			o.execOut = c.Exec.Stdout
		}
	}
	o.cell = strings.Join(parts, ", ")
	return o
}

func keyWords(msg string) string {
	for _, k := range keyPhrases {
		if strings.Contains(msg, k) {
			return k
		}
	}
	msg = strings.TrimSpace(msg)
	if len(msg) > 80 {
		msg = "..." + msg[len(msg)-77:]
	}
	return msg
}

func toMappings(rows [][3]uint32) []rspec.LinuxIDMapping {
	var m []rspec.LinuxIDMapping
	for _, r := range rows {
		m = append(m, rspec.LinuxIDMapping{ContainerID: r[0], HostID: r[1], Size: r[2]})
	}
	return m
}
