package main

import (
	"os"
	"os/signal"
	"syscall"
)

// runPause is the node's pause image: sleep until told to stop. It may be PID
// 1 of a pod's shared PID namespace, where the kernel ignores signals that
// have no handler and orphans are re-parented to it, so it handles TERM and
// INT explicitly and reaps zombies, as kubernetes' pause.c does.
func runPause() int {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range sigs {
		if sig != syscall.SIGCHLD {
			return 0
		}
		reapZombies()
	}
	return 0
}

func reapZombies() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
