package vm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/crio-userns/crio-userns/test/node"
	"github.com/crio-userns/crio-userns/test/podrun/proctree"
)

// Agent is a client of the guest agent on its host-side Unix socket.
type Agent struct {
	Socket string
	http   *http.Client
}

// AgentSocketName is the agent's socket beside the guest's CRI socket: a
// tool given only the CRI socket (podrun --socket) finds the agent there.
const AgentSocketName = "agent.sock"

// PodLogRootBeside is where pod log directories go for the guest whose CRI
// socket is criSocket: a directory the guest shares writable, at the same
// path, so that its conmon writes where podrun reads.
func PodLogRootBeside(criSocket string) string {
	abs, err := filepath.Abs(criSocket)
	if err != nil {
		abs = criSocket
	}
	return podLogRoot(filepath.Dir(abs))
}

func podLogRoot(state string) string { return filepath.Join(state, "pods") }

// NewAgent returns a client for the agent at socket.
func NewAgent(socket string) *Agent {
	return &Agent{Socket: socket, http: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}}
}

// AgentBeside returns the agent of the guest whose CRI socket is criSocket,
// or nil when criSocket is not a guest's (no agent socket beside it).
func AgentBeside(criSocket string) *Agent {
	p := filepath.Join(filepath.Dir(criSocket), AgentSocketName)
	if st, err := os.Stat(p); err != nil || st.Mode()&os.ModeSocket == 0 {
		return nil
	}
	return NewAgent(p)
}

func (a *Agent) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://guest"+path, body)
	if err != nil {
		return err
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("guest agent %s: %w", path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("guest agent %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("guest agent %s: %s", path, bytes.TrimSpace(data))
	}
	if out == nil {
		return nil
	}
	if raw, ok := out.(*[]byte); ok {
		*raw = data
		return nil
	}
	return json.Unmarshal(data, out)
}

// Ping asks the agent how the guest is.
func (a *Agent) Ping(ctx context.Context) (*Ping, error) {
	var p Ping
	return &p, a.call(ctx, http.MethodGet, pathPing, nil, &p)
}

// Mount mounts a share in the guest.
func (a *Agent) Mount(ctx context.Context, m MountRequest) error {
	return a.call(ctx, http.MethodPost, pathMount, m, nil)
}

// NodeUp starts crio in the guest.
func (a *Agent) NodeUp(ctx context.Context, req NodeUpRequest) (*NodeUpResponse, error) {
	var resp NodeUpResponse
	return &resp, a.call(ctx, http.MethodPost, pathNodeUp, req, &resp)
}

// LoadImages copies images into the running node's store (once per guest).
func (a *Agent) LoadImages(ctx context.Context, refs []ImageRef) error {
	return a.call(ctx, http.MethodPost, pathImages, refs, nil)
}

// NodeDown removes every pod, stops crio and reports what was left behind in
// the guest.
func (a *Agent) NodeDown(ctx context.Context) (*node.Leftovers, error) {
	var left node.Leftovers
	return &left, a.call(ctx, http.MethodPost, pathNodeDown, nil, &left)
}

// Restart stops crio with sig and starts it again.
func (a *Agent) Restart(ctx context.Context, sig syscall.Signal) error {
	return a.call(ctx, http.MethodPost, pathRestart, RestartRequest{Signal: int(sig)}, nil)
}

// CheckIdle is node.CheckIdle in the guest.
func (a *Agent) CheckIdle(ctx context.Context) (*node.Leftovers, error) {
	var left node.Leftovers
	return &left, a.call(ctx, http.MethodGet, pathIdle, nil, &left)
}

// FindLeftovers is node.FindLeftovers in the guest, while crio runs.
func (a *Agent) FindLeftovers(ctx context.Context) (*node.Leftovers, error) {
	var left node.Leftovers
	return &left, a.call(ctx, http.MethodGet, pathLeft, nil, &left)
}

// ReadFile reads a file in the guest.
func (a *Agent) ReadFile(ctx context.Context, path string) ([]byte, error) {
	var data []byte
	return data, a.call(ctx, http.MethodGet, pathFile+"?path="+url.QueryEscape(path), nil, &data)
}

// Glob lists the files matching pattern in the guest (filepath.Glob).
func (a *Agent) Glob(ctx context.Context, pattern string) ([]string, error) {
	var matches []string
	return matches, a.call(ctx, http.MethodGet, pathGlob+"?pattern="+url.QueryEscape(pattern), nil, &matches)
}

// Exec runs a command in the guest and returns its outcome; a command that
// ran and failed is not an error.
func (a *Agent) Exec(ctx context.Context, req ExecRequest) (*ExecResponse, error) {
	var resp ExecResponse
	return &resp, a.call(ctx, http.MethodPost, pathExec, req, &resp)
}

// Poweroff shuts the guest down; QEMU exits when it is off.
func (a *Agent) Poweroff(ctx context.Context) error {
	return a.call(ctx, http.MethodPost, pathPoweroff, nil, nil)
}

// ReadProc implements podrun.ProcReader with the guest's /proc: PIDs a
// guest's CRI-O reports are the guest's.
func (a *Agent) ReadProc(pid int) (*proctree.Snapshot, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var snap proctree.Snapshot
	return &snap, a.call(ctx, http.MethodGet, pathProc+strconv.Itoa(pid), nil, &snap)
}
