package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// readPID returns the crio PID recorded in the state dir, if that process is
// still the crio this node started: the PID must run the node's own copy of
// crio with the node's config, so a recycled PID is never signalled.
func (l Layout) readPID() (int, bool) {
	data, err := os.ReadFile(l.PIDFile())
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, l.isOurCrio(pid)
}

func (l Layout) isOurCrio(pid int) bool {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil || filepath.Clean(exe) != filepath.Join(l.Bin(), "crio") {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && strings.Contains(string(cmdline), l.ConfigFile()) && !isZombie(pid)
}

func isZombie(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the parenthesised command, which may itself hold ')'.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z' || s[i+2] == 'X'
}

// waitGone polls until pid has exited (or is a zombie awaiting its parent).
func waitGone(pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) || isZombie(pid) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// signalAndWait sends sig to the node's crio and waits for it to exit,
// escalating after grace to SIGQUIT, then SIGKILL.
func (l Layout) signalAndWait(pid int, sig syscall.Signal, grace time.Duration) error {
	if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signalling crio (pid %d): %w", pid, err)
	}
	if waitGone(pid, grace) {
		return nil
	}
	// crio leaves SIGQUIT to the Go runtime, which writes every goroutine's
	// stack to crio's stderr (the node's crio.log) and exits: what a hung
	// shutdown was waiting for. (crio's own SIGUSR1 dump runs on the
	// goroutine that is stuck in the shutdown.)
	if err := syscall.Kill(pid, syscall.SIGQUIT); err == nil && waitGone(pid, 10*time.Second) {
		return fmt.Errorf("crio (pid %d) ignored %v for %v; its goroutine stacks (SIGQUIT) are in %s", pid, sig, grace, l.CrioLog())
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("killing crio (pid %d): %w", pid, err)
	}
	if !waitGone(pid, 10*time.Second) {
		return fmt.Errorf("crio (pid %d) survived SIGKILL", pid)
	}
	return fmt.Errorf("crio (pid %d) ignored %v for %v and was killed", pid, sig, grace)
}
