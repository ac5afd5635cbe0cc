package vm

import (
	"time"

	"github.com/crio-userns/crio-userns/test/node"
)

// The agent's HTTP API: JSON bodies, errors as HTTP 500 with the message as
// the body. The paths are relative to the agent's root.
const (
	pathPing     = "/v1/ping"
	pathMount    = "/v1/mount"
	pathNodeUp   = "/v1/node/up"
	pathNodeDown = "/v1/node/down"
	pathImages   = "/v1/node/images"
	pathRestart  = "/v1/node/restart"
	pathIdle     = "/v1/node/idle"
	pathLeft     = "/v1/node/leftovers"
	pathProc     = "/v1/proc/" // + PID
	pathFile     = "/v1/file"  // ?path=
	pathGlob     = "/v1/glob"  // ?pattern=
	pathExec     = "/v1/exec"
	pathPoweroff = "/v1/poweroff"
)

// GuestState is where the guest's node keeps everything, on the guest's own
// ext4 root (overlay storage does not work on a 9p share).
const GuestState = "/var/lib/crio-userns/node"

// CrioUnit is the unit crio runs as in the guest, as on an OpenShift node.
const CrioUnit = "crio.service"

// GuestRuntimes are the guest's runtime handlers: crun is the default, as on
// OpenShift 4.18 and later; runc is there for pods that ask for it.
var GuestRuntimes = []node.RuntimeHandler{{Name: "crun", Path: "/usr/bin/crun"}, {Name: "runc", Path: "/usr/sbin/runc"}}

// Ping is the agent's report of the guest it runs in.
type Ping struct {
	Kernel        string  `json:"kernel"`
	UptimeSeconds float64 `json:"uptimeSeconds"`
	// AgentStartedAt is the guest's uptime when the agent started: how long
	// the guest took to boot to the agent.
	AgentStartedAt float64 `json:"agentStartedAt"`
	CgroupFS       string  `json:"cgroupFS"` // statfs type of /sys/fs/cgroup: "cgroup2fs"
	Init           string  `json:"init"`     // /proc/1/comm: "systemd"
	SystemState    string  `json:"systemState"`
}

// MountRequest mounts a host directory shared under Tag at Path.
type MountRequest struct {
	Tag      string `json:"tag"`
	Path     string `json:"path"`
	ReadOnly bool   `json:"readOnly"`
}

// ImageRef is a test image's OCI layout (on a share) and its reference in
// the node's store.
type ImageRef struct {
	Ref    string `json:"ref"`
	Layout string `json:"layout"`
	Tag    string `json:"tag"`
}

// NodeUpRequest brings up crio in the guest; paths are the guest's (which,
// for shares, are the host's).
type NodeUpRequest struct {
	CrioDir       string                `json:"crioDir"`
	DropIns       map[string][]byte     `json:"dropIns"`
	Hooks         map[string][]byte     `json:"hooks"`
	Images        []ImageRef            `json:"images"`
	Runtimes      []node.RuntimeHandler `json:"runtimes"`
	CgroupManager string                `json:"cgroupManager"`
}

// NodeUpResponse says how the node came up.
type NodeUpResponse struct {
	PID        int           `json:"pid"`
	Elapsed    time.Duration `json:"elapsed"`
	ImagesTook time.Duration `json:"imagesTook"`
}

// RestartRequest restarts crio with Signal (SIGTERM or SIGKILL).
type RestartRequest struct {
	Signal int `json:"signal"`
}

// ExecRequest runs a command in the guest.
type ExecRequest struct {
	Args    []string      `json:"args"`
	Env     []string      `json:"env"`
	Dir     string        `json:"dir"`
	Timeout time.Duration `json:"timeout"`
}

// ExecResponse is the command's outcome.
type ExecResponse struct {
	ExitCode int    `json:"exitCode"`
	Stdout   string `json:"stdout"`
	Stderr   string `json:"stderr"`
}
