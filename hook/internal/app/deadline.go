package app

import (
	"fmt"
	"io"
	"runtime/debug"
	"sync"
	"time"

	"github.com/crio-userns/crio-userns/hook/internal/bundle"
	"github.com/crio-userns/crio-userns/internal/policy"
)

// invocation is one run of the hook or of validate in flight: what the
// deadline watcher needs to say who and where when it gives up, and whether
// the verdict is already out.
type invocation struct {
	mu     sync.Mutex
	target bundle.Target
	pol    *policy.Policy
	step   string
	// code is the exit status once the verdict is decided and its line
	// written; -1 before.
	code     int
	deadline chan time.Duration
	stderr   *lockedWriter
}

func (inv *invocation) setTarget(t bundle.Target) { inv.mu.Lock(); inv.target = t; inv.mu.Unlock() }

// setStep records where the run is, for the timeout's message, and is where
// tests make a step panic or stall.
func (inv *invocation) setStep(s string) {
	inv.mu.Lock()
	inv.step = s
	inv.mu.Unlock()
	if testStepHook != nil {
		testStepHook(s)
	}
}

// setPolicy switches the deadline from the default to the policy's.
func (inv *invocation) setPolicy(pol *policy.Policy) {
	inv.mu.Lock()
	inv.pol = pol
	inv.mu.Unlock()
	inv.deadline <- pol.Timeout.Duration
}

// decided records that the verdict (exit status code) is out.
func (inv *invocation) decided(code int) {
	inv.mu.Lock()
	inv.code = code
	inv.mu.Unlock()
}

func (inv *invocation) snapshot() (bundle.Target, *policy.Policy, string, int) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	return inv.target, inv.pol, inv.step, inv.code
}

// testStepHook, when set, runs at every step (tests make steps panic or
// stall with it); nil in production.
var testStepHook func(step string)

// lockedWriter serialises the run's and the watcher's writes to stderr.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// withDeadline runs body under the deadline: policy.DefaultTimeout until
// the policy is read, the policy's timeout after, both counted from the
// start. body returns the exit status, having written its verdict. When the
// deadline passes first, expired writes what it can and gives the status,
// and the stuck work is abandoned: a blocked open, read, flock or write
// cannot be cancelled from Go, but the process's exit ends it. A panic in
// body is caught and handed to crashed.
func withDeadline(o Options, body func(inv *invocation) int,
	expired func(inv *invocation, limit time.Duration) int,
	crashed func(inv *invocation, reason, stack string) int) int {
	start := time.Now()
	inv := &invocation{code: -1, deadline: make(chan time.Duration, 1), stderr: &lockedWriter{w: o.Stderr}}
	done := make(chan int, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				_, _, step, _ := inv.snapshot()
				done <- crashed(inv, fmt.Sprintf("internal error while %s: panic: %v", step, r), string(debug.Stack()))
			}
		}()
		growStack()
		done <- body(inv)
	}()
	limit := policy.DefaultTimeout
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		select {
		case code := <-done:
			return code
		case limit = <-inv.deadline:
			timer.Reset(time.Until(start.Add(limit)))
		case <-timer.C:
			return expired(inv, limit)
		}
	}
}
