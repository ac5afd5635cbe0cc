package podrun

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// watched is a started container under observation.
type watched struct {
	cr        *ContainerResult
	logPath   string
	startedAt time.Time
	pid       int             // host PID of the init process, once known
	seen      map[int]Process // every process sampled, by host PID
	exited    bool
	done      bool
}

// watch samples the containers every poll interval until each is done: exited
// or, unless untilExit, ready (a log line matched) or running for the settle
// time. It returns early when ctx ends, noting why in the result.
func (r *runner) watch(ctx context.Context, ws []*watched, untilExit bool) {
	tick := time.NewTicker(r.opts.PollInterval)
	defer tick.Stop()
	for {
		pending := 0
		for _, w := range ws {
			if w.done {
				continue
			}
			r.sample(ctx, w, !untilExit)
			switch {
			case w.exited:
				w.done = true
			case !untilExit && (w.cr.Ready || time.Since(w.startedAt) >= r.opts.Settle):
				w.done = true
			default:
				pending++
			}
		}
		if pending == 0 {
			return
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				r.res.Aborted = fmt.Sprintf("timeout %s exceeded while %d container(s) were still running", r.opts.Timeout, pending)
			} else {
				r.res.Aborted = "interrupted"
			}
			return
		case <-tick.C:
		}
	}
}

// sample records one observation of w: its state and, while it runs, the
// host's /proc view of its processes and (if checkReady) whether its log has
// a ready line. Sampling problems are not failures of the pod: a container
// can exit between any two reads.
func (r *runner) sample(ctx context.Context, w *watched, checkReady bool) {
	st, pid, err := r.client.ContainerStatus(ctx, w.cr.ID, w.pid == 0)
	if err != nil {
		r.opts.Logf("sampling %s: container status: %v", w.cr.Name, err)
		return
	}
	if pid > 0 {
		w.pid = pid
	}
	// The log first: a process sample taken after the ready line was seen
	// shows everything the container had set up by then.
	if checkReady && !w.cr.Ready {
		if lines, err := ReadCRILog(w.logPath); err == nil {
			w.cr.Ready = slices.ContainsFunc(lines, r.ready.MatchString)
		}
	}
	switch st.GetState() {
	case runtimeapi.ContainerState_CONTAINER_EXITED:
		w.exited = true
		w.cr.ExitCode = ptr(st.GetExitCode())
		w.cr.Reason = st.GetReason()
	case runtimeapi.ContainerState_CONTAINER_RUNNING:
		if w.pid > 0 {
			snap, err := r.opts.Proc.ReadProc(w.pid)
			if err != nil {
				r.opts.Logf("sampling %s: %v", w.cr.Name, err)
			} else {
				w.record(snap)
			}
		}
	}
}

// record keeps the latest ID maps and capabilities and adds the processes to
// those seen before, so that short-lived children sampled once stay listed
// (with their last observed identity).
func (w *watched) record(snap *ProcSnapshot) {
	w.cr.UIDMap, w.cr.GIDMap = snap.UIDMap, snap.GIDMap
	w.cr.CapBnd, w.cr.CapEff = snap.CapBnd, snap.CapEff
	for _, p := range snap.Processes {
		w.seen[p.HostPID] = p
	}
	procs := make([]Process, 0, len(w.seen))
	for _, p := range w.seen {
		procs = append(procs, p)
	}
	// The init process first, then the rest by PID.
	slices.SortFunc(procs, func(a, b Process) int {
		switch {
		case a.HostPID == w.pid:
			return -1
		case b.HostPID == w.pid:
			return 1
		}
		return a.HostPID - b.HostPID
	})
	w.cr.Processes = procs
}

// finish records the container's final state, exit code and log. It uses a
// fresh context when ctx has ended (timeout, interrupt), so that the report
// stays complete.
func (r *runner) finish(w *watched) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if st, _, err := r.client.ContainerStatus(ctx, w.cr.ID, false); err == nil {
		w.cr.State = stateName(st.GetState())
		if st.GetState() == runtimeapi.ContainerState_CONTAINER_EXITED {
			w.cr.ExitCode = ptr(st.GetExitCode())
			w.cr.Reason = st.GetReason()
		}
	}
	lines, err := ReadCRILog(w.logPath)
	if err != nil {
		w.cr.Log = fmt.Sprintf("(reading %s: %v)", w.logPath, err)
		return
	}
	if len(lines) > 0 {
		w.cr.Log = strings.Join(lines, "\n") + "\n"
	}
	if slices.ContainsFunc(lines, r.ready.MatchString) {
		w.cr.Ready = true
	}
}
