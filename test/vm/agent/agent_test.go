package agent

import (
	"context"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crio-userns/crio-userns/test/vm"
)

// serve runs the agent on a Unix socket and returns a client for it, the
// way the host reaches it through its relay.
func serve(t *testing.T) *vm.Agent {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: New(1.5, log.New(os.Stderr, "", 0)).Handler()}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return vm.NewAgent(sock)
}

func TestAgentAPI(t *testing.T) {
	a := serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	p, err := a.Ping(ctx)
	if err != nil || p.AgentStartedAt != 1.5 || p.Kernel == "" {
		t.Errorf("ping: %+v %v", p, err)
	}
	snap, err := a.ReadProc(os.Getpid())
	if err != nil || len(snap.Processes) == 0 || snap.Processes[0].HostPID != os.Getpid() || len(snap.UIDMap) == 0 {
		t.Errorf("proc of this process: %+v %v", snap, err)
	}
	if _, err := a.ReadProc(1 << 30); err == nil {
		t.Errorf("proc of a missing PID: no error")
	}
	f := filepath.Join(t.TempDir(), "f")
	os.WriteFile(f, []byte("content\n"), 0o644)
	if data, err := a.ReadFile(ctx, f); err != nil || string(data) != "content\n" {
		t.Errorf("file: %q %v", data, err)
	}
	if _, err := a.ReadFile(ctx, f+".missing"); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
	res, err := a.Exec(ctx, vm.ExecRequest{Args: []string{"sh", "-c", "echo out; echo err >&2; exit 3"}})
	if err != nil || res.ExitCode != 3 || res.Stdout != "out\n" || res.Stderr != "err\n" {
		t.Errorf("exec: %+v %v", res, err)
	}
	start := time.Now()
	res, err = a.Exec(ctx, vm.ExecRequest{Args: []string{"sh", "-c", "sleep 30 & sleep 30"}, Timeout: 200 * time.Millisecond})
	if err != nil || res.ExitCode == 0 || !strings.Contains(res.Stderr, "killed after") || time.Since(start) > 20*time.Second {
		t.Errorf("exec past its timeout: %+v %v after %v", res, err, time.Since(start))
	}
	if err := a.Restart(ctx, 15); err == nil || !strings.Contains(err.Error(), "no node is up") {
		t.Errorf("restart without a node: %v", err)
	}
}
