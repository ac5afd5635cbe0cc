package podrun

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/crio-userns/crio-userns/internal/idmap"
)

// Result is the outcome of one podrun run. Failures of the pod (admission,
// sandbox, container creation, non-zero exits) are recorded here with the
// runtime's error text verbatim; they are not Go errors.
type Result struct {
	Pod            string             `json:"pod"`
	Namespace      string             `json:"namespace"`
	PodUID         string             `json:"podUID"`
	SCC            string             `json:"scc"`
	Admitted       bool               `json:"admitted"`
	AdmissionError string             `json:"admissionError"`
	SandboxID      string             `json:"sandboxId"`
	SandboxError   string             `json:"sandboxError"`
	Containers     []*ContainerResult `json:"containers"`
	// Aborted says why waiting stopped early: the --timeout ran out, or the
	// run was interrupted.
	Aborted string `json:"aborted,omitempty"`
	// CleanupError is set when the sandbox could not be stopped and removed.
	CleanupError string `json:"cleanupError,omitempty"`
	// LogDirectory is the sandbox's log directory, reported only with --keep
	// (it is removed otherwise).
	LogDirectory string `json:"logDirectory,omitempty"`
	// Timings are the latencies of the CRI calls, for benchmarks.
	Timings Timings `json:"timings"`
}

// Timings are how long the runtime took to answer each CRI call; zero for a
// call that was not made.
type Timings struct {
	RunPodSandbox   time.Duration `json:"runPodSandbox,omitempty"`
	CreateContainer time.Duration `json:"createContainer,omitempty"`
	StartContainer  time.Duration `json:"startContainer,omitempty"`
}

// ContainerResult is what happened to one container. Init containers come
// first, in order, then the app containers.
type ContainerResult struct {
	Name        string `json:"name"`
	Init        bool   `json:"init,omitempty"`
	Image       string `json:"image"` // the reference run, after --image rewriting
	ID          string `json:"id,omitempty"`
	Created     bool   `json:"created"`
	CreateError string `json:"createError"`
	Started     bool   `json:"started"`
	StartError  string `json:"startError,omitempty"`
	// State is the CRI state at the end: created, running, exited, unknown.
	State string `json:"state,omitempty"`
	// ExitCode is null unless the container exited.
	ExitCode *int32 `json:"exitCode"`
	Reason   string `json:"reason,omitempty"`
	// Ready is true when a log line matched the readiness pattern.
	Ready bool `json:"ready,omitempty"`
	// Log is the container's output (stdout and stderr, CRI framing removed).
	Log string `json:"log"`
	// The host's view of the running container, sampled while it ran; empty
	// when it exited before a sample could be taken.
	UIDMap    [][3]uint32 `json:"uidMap"`
	GIDMap    [][3]uint32 `json:"gidMap"`
	CapBnd    string      `json:"capBnd"`
	CapEff    string      `json:"capEff"`
	Processes []Process   `json:"processes"`
	// Timings of this container's CreateContainer and StartContainer.
	Timings Timings `json:"timings"`
	// Exec is the --exec command's outcome (first app container only).
	Exec *ExecResult `json:"exec,omitempty"`
}

// ExecResult is the outcome of ExecSync in a container.
type ExecResult struct {
	Cmd    []string `json:"cmd"`
	Stdout string   `json:"stdout"`
	Stderr string   `json:"stderr"`
	// ExitCode is null when the command could not be run at all (Error).
	ExitCode *int32 `json:"exitCode"`
	Error    string `json:"error,omitempty"`
	// Done is how long after RunPodSandbox the command returned, e.g. the
	// time to a booted system for `systemctl is-system-running --wait`.
	Done time.Duration `json:"done,omitempty"`
}

// OK reports whether the pod did what a healthy pod does: admitted, sandbox
// up, every container created and started, and every container that exited
// exited 0; and podrun itself finished and cleaned up.
func (r *Result) OK() bool {
	if !r.Admitted || r.SandboxError != "" || r.SandboxID == "" || r.Aborted != "" || r.CleanupError != "" {
		return false
	}
	for _, c := range r.Containers {
		if !c.Created || !c.Started || (c.ExitCode != nil && *c.ExitCode != 0) {
			return false
		}
	}
	return true
}

// ExitCode is the CLI's exit status for the result: 0 when OK, else 1.
func (r *Result) ExitCode() int {
	if r.OK() {
		return 0
	}
	return 1
}

// Container returns the named container's result, or nil.
func (r *Result) Container(name string) *ContainerResult {
	for _, c := range r.Containers {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// HasUIDMapping reports whether the sampled uid_map has the row
// [inside, outside, count].
func (c *ContainerResult) HasUIDMapping(inside, outside, count uint32) bool {
	return hasRow(c.UIDMapSeen(), [3]uint32{inside, outside, count})
}

// UIDMapSeen is the container's uid_map as sampled from the host's /proc,
// or, when it exited before a sample was taken, the /proc/self/uid_map it
// printed itself under a "--- uid_map" header (usernstest does): the same
// kernel data, read from inside.
func (c *ContainerResult) UIDMapSeen() [][3]uint32 { return seen(c.UIDMap, c.Log, "uid_map") }

// GIDMapSeen is UIDMapSeen for gid_map.
func (c *ContainerResult) GIDMapSeen() [][3]uint32 { return seen(c.GIDMap, c.Log, "gid_map") }

func seen(sampled [][3]uint32, log, name string) [][3]uint32 {
	if len(sampled) > 0 {
		return sampled
	}
	_, rest, ok := strings.Cut(log, "--- "+name+"\n")
	if !ok {
		return nil
	}
	section, _, _ := strings.Cut(rest, "--- ")
	maps, err := idmap.ParseProcMapString(section)
	if err != nil {
		return nil
	}
	return idmap.Triples(maps)
}

// HasGIDMapping is HasUIDMapping for gid_map.
func (c *ContainerResult) HasGIDMapping(inside, outside, count uint32) bool {
	return hasRow(c.GIDMapSeen(), [3]uint32{inside, outside, count})
}

func hasRow(rows [][3]uint32, want [3]uint32) bool {
	for _, r := range rows {
		if r == want {
			return true
		}
	}
	return false
}

// JSON renders the result as the one JSON object --json prints, with empty
// lists as [] rather than null.
func (r *Result) JSON() ([]byte, error) {
	for _, c := range r.Containers {
		if c.UIDMap == nil {
			c.UIDMap = [][3]uint32{}
		}
		if c.GIDMap == nil {
			c.GIDMap = [][3]uint32{}
		}
		if c.Processes == nil {
			c.Processes = []Process{}
		}
	}
	if r.Containers == nil {
		r.Containers = []*ContainerResult{}
	}
	return json.Marshal(r)
}

// WriteText renders the result for people.
func (r *Result) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "pod %s/%s (uid %s), scc %s\n", r.Namespace, r.Pod, r.PodUID, r.SCC)
	if !r.Admitted {
		fmt.Fprintf(&b, "  admission: REJECTED: %s\n", r.AdmissionError)
		_, err := io.WriteString(w, b.String())
		return err
	}
	b.WriteString("  admission: admitted\n")
	switch {
	case r.SandboxError != "":
		fmt.Fprintf(&b, "  sandbox: FAILED: %s\n", r.SandboxError)
	case r.SandboxID != "":
		fmt.Fprintf(&b, "  sandbox: %s\n", r.SandboxID)
	}
	for _, c := range r.Containers {
		kind := "container"
		if c.Init {
			kind = "init container"
		}
		fmt.Fprintf(&b, "%s %s (%s): %s\n", kind, c.Name, c.Image, c.summary())
		if len(c.UIDMap) > 0 {
			fmt.Fprintf(&b, "  uid_map: %s\n", formatRows(c.UIDMap))
			fmt.Fprintf(&b, "  gid_map: %s\n", formatRows(c.GIDMap))
			fmt.Fprintf(&b, "  CapBnd %s  CapEff %s\n", c.CapBnd, c.CapEff)
		}
		for _, p := range c.Processes {
			fmt.Fprintf(&b, "  host pid %-8d uid %-10d gid %-10d %s\n", p.HostPID, p.HostUID, p.HostGID, p.Cmd)
		}
		if c.Log != "" {
			b.WriteString("  log:\n")
			writeIndented(&b, c.Log, "    ")
		}
		if e := c.Exec; e != nil {
			fmt.Fprintf(&b, "  exec %q: ", strings.Join(e.Cmd, " "))
			switch {
			case e.Error != "":
				fmt.Fprintf(&b, "FAILED: %s\n", e.Error)
			case e.ExitCode != nil:
				fmt.Fprintf(&b, "exit %d\n", *e.ExitCode)
			}
			writeIndented(&b, e.Stdout, "    ")
			if e.Stderr != "" {
				b.WriteString("  exec stderr:\n")
				writeIndented(&b, e.Stderr, "    ")
			}
		}
	}
	if r.Aborted != "" {
		fmt.Fprintf(&b, "aborted: %s\n", r.Aborted)
	}
	if r.CleanupError != "" {
		fmt.Fprintf(&b, "cleanup: FAILED: %s\n", r.CleanupError)
	}
	if r.LogDirectory != "" {
		fmt.Fprintf(&b, "kept: sandbox %s, logs in %s\n", r.SandboxID, r.LogDirectory)
	}
	if r.OK() {
		b.WriteString("result: OK\n")
	} else {
		b.WriteString("result: FAILED\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (c *ContainerResult) summary() string {
	switch {
	case c.CreateError != "":
		return "create FAILED: " + strings.TrimSpace(c.CreateError)
	case !c.Created:
		return "not created"
	case c.StartError != "":
		return "created, start FAILED: " + strings.TrimSpace(c.StartError)
	case c.ExitCode != nil:
		s := fmt.Sprintf("exited %d", *c.ExitCode)
		if c.Reason != "" {
			s += " (" + c.Reason + ")"
		}
		return s
	case c.State != "":
		return c.State
	default:
		return "started"
	}
}

func formatRows(rows [][3]uint32) string {
	parts := make([]string, len(rows))
	for i, r := range rows {
		parts[i] = fmt.Sprintf("%d %d %d", r[0], r[1], r[2])
	}
	return strings.Join(parts, "; ")
}

func writeIndented(b *strings.Builder, text, indent string) {
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if line == "" && text == "" {
			continue
		}
		b.WriteString(indent + line + "\n")
	}
}
