package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/crio-userns/crio-userns/internal/cri"
)

// UnitDir is where a node's unit goes: systemd's runtime directory, so that a
// reboot forgets it along with everything else of the node's run.
const UnitDir = "/run/systemd/system"

// unitTemplate follows CRI-O's contrib/systemd/crio.service (Type=notify,
// TasksMax, OOMScoreAdjust) with the node's private paths. Restart=no: a test
// that kills crio decides itself when it comes back. No watchdog: under
// software emulation a loaded guest can miss a 60 s deadline.
var unitTemplate = template.Must(template.New("unit").Funcs(template.FuncMap{"q": strconv.Quote}).Parse(
	`# Written by the crio-userns node bench.
[Unit]
Description=CRI-O of the crio-userns node in {{.State}}

[Service]
Type=notify
Environment=GOTRACEBACK=crash
ExecStart={{q .Crio}} --config {{q .ConfigFile}} --config-dir {{q .DropInDir}} --registries-conf {{q .Registries}} --registries-conf-dir {{q .RegistriesDir}}
StandardOutput=append:{{.CrioLog}}
StandardError=append:{{.CrioLog}}
TasksMax=infinity
LimitNOFILE=1048576
LimitNPROC=1048576
OOMScoreAdjust=-999
TimeoutStartSec=180
Restart=no
`))

// ServiceUnit renders the systemd unit that runs the node's crio.
func (l Layout) ServiceUnit() ([]byte, error) {
	var b bytes.Buffer
	err := unitTemplate.Execute(&b, struct {
		Layout
		Crio string
	}{l, filepath.Join(l.Bin(), "crio")})
	return b.Bytes(), err
}

// startUnit (re)writes the node's unit and starts it. systemctl returns once
// crio has notified readiness; the CRI call after it proves the socket
// answers.
func (n *Node) startUnit(ctx context.Context) error {
	unit, err := n.ServiceUnit()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(UnitDir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(UnitDir, n.cfg.Unit), unit, 0o644); err != nil {
		return err
	}
	offset := fileSize(n.CrioLog())
	if err := systemctl(ctx, "daemon-reload"); err != nil {
		return err
	}
	_ = systemctl(ctx, "reset-failed", n.cfg.Unit) // a unit that never failed is not an error
	if err := systemctl(ctx, "start", n.cfg.Unit); err != nil {
		return fmt.Errorf("%w\n--- %s (new lines):\n%s", err, n.CrioLog(), logSince(n.CrioLog(), offset, 30))
	}
	out, err := exec.CommandContext(ctx, "systemctl", "show", "--property=MainPID", "--value", n.cfg.Unit).Output()
	if err != nil {
		return fmt.Errorf("systemctl show %s: %w", n.cfg.Unit, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil || pid <= 0 {
		return fmt.Errorf("%s has no main process (MainPID %q)", n.cfg.Unit, strings.TrimSpace(string(out)))
	}
	n.pid, n.exited = pid, nil
	if err := os.WriteFile(n.PIDFile(), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return err
	}
	client, err := cri.Dial(n.Socket())
	if err != nil {
		return err
	}
	defer client.Close()
	readyCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if _, err := client.WaitReady(readyCtx, func() error {
		if !n.isOurCrio(pid) {
			return errors.New("crio exited")
		}
		return nil
	}); err != nil {
		return fmt.Errorf("%s (crio pid %d) is not ready: %w\n--- %s (new lines):\n%s", n.cfg.Unit, pid, err, n.CrioLog(), logSince(n.CrioLog(), offset, 30))
	}
	return nil
}

// stopUnit waits for systemd to see the unit's main process gone, so that
// the next start is not refused as a start of a unit still stopping.
func (n *Node) stopUnit() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		out, _ := exec.CommandContext(ctx, "systemctl", "is-active", n.cfg.Unit).Output()
		switch strings.TrimSpace(string(out)) {
		case "inactive", "failed":
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s still %s after crio exited", n.cfg.Unit, strings.TrimSpace(string(out)))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func systemctl(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "systemctl", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("systemctl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}
