package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/crio-userns/crio-userns/internal/accounts"
)

// childArgs are the arguments after "child": NAME UID:GID [hold DURATION].
// The account is resolved by the parent and passed in, so parent and child can
// never disagree about it, and so that `ps` on the host shows which account a
// held child is (e.g. "usernstest child daemon 2:2 hold 1h0m0s").
type childArgs struct {
	name     string
	uid, gid uint32
	hold     time.Duration
}

func (c childArgs) argv() []string {
	a := []string{"usernstest", "child", c.name, fmt.Sprintf("%d:%d", c.uid, c.gid)}
	if c.hold > 0 {
		a = append(a, "hold", c.hold.String())
	}
	return a
}

func parseChildArgs(args []string) (childArgs, error) {
	if len(args) != 2 && len(args) != 4 {
		return childArgs{}, fmt.Errorf("want NAME UID:GID [hold DURATION], got %q", args)
	}
	c := childArgs{name: args[0]}
	var err error
	if c.uid, c.gid, err = parsePair(args[1]); err != nil {
		return childArgs{}, fmt.Errorf("%q: %w", args[1], err)
	}
	if len(args) == 4 {
		if args[2] != "hold" {
			return childArgs{}, fmt.Errorf("want \"hold\", got %q", args[2])
		}
		if c.hold, err = time.ParseDuration(args[3]); err != nil {
			return childArgs{}, fmt.Errorf("hold duration: %w", err)
		}
	}
	return c, nil
}

// runChild is the re-executed child: a fresh single-purpose process, so the
// credential changes below affect nothing but this account's process.
//
// The calls are Go's syscall.Setgroups/Setgid/Setuid, which apply to every
// thread of the process (AllThreadsSyscall, Go >= 1.16, needs CGO_ENABLED=0)
// exactly like glibc's wrappers do for the field report's Python program.
// Raw single-thread syscalls would leave the Go runtime's other threads as
// root, and a host tool reading /proc/PID/task/*/status would then see a
// process that is half daemon, half root.
func runChild(args []string, stdout, stderr io.Writer) int {
	c, err := parseChildArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "usernstest child: %v\n", err)
		return 2
	}
	parent := os.Getppid()
	r := ChildResult{User: c.name, Known: true, WantUID: c.uid, WantGID: c.gid}
	if _, groups, err := readAccounts(); err == nil {
		r.Group = accounts.GroupName(groups, c.gid)
	}

	// Drop root's supplementary groups first, as initgroups-style switching
	// code does. Its failure is reported but does not fail the switch: the
	// field report's program never called setgroups, the verdict is about
	// uid and gid, and setgroups is EPERM whenever /proc/self/setgroups is
	// "deny" (user namespaces set up by unprivileged tools), where setgid and
	// setuid can still work.
	r.Setgroups = errnoName(syscall.Setgroups([]int{}))
	// setgid before setuid: after setuid to a non-root account the process
	// has lost CAP_SETGID and could no longer change its group.
	r.Setgid = errnoName(syscall.Setgid(int(c.gid)))
	r.Setuid = errnoName(syscall.Setuid(int(c.uid)))
	r.Got, r.GotUID, r.GotGID = true, uint32(syscall.Getuid()), uint32(syscall.Getgid())
	r.OK = r.GotUID == c.uid && r.GotGID == c.gid

	if _, err := fmt.Fprintln(stdout, r.Line()); err != nil {
		fmt.Fprintf(stderr, "usernstest child %s: reporting: %v\n", c.name, err)
		return 1
	}
	if c.hold > 0 {
		holdAsChild(c.hold, parent)
	}
	return 0
}

// holdAsChild keeps the switched process alive for inspection from the host,
// until the hold ends, a signal arrives, or the parent dies.
func holdAsChild(d time.Duration, parent int) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	// The kernel clears the parent-death signal when credentials change, so
	// it is set here, after the switch. A parent that lacks CAP_KILL (dropped
	// by the SCC) cannot signal a child that is now another user; this makes
	// such children go away with it anyway.
	_ = unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0, 0, 0)
	if os.Getppid() != parent {
		return // the parent died before the death signal was armed
	}
	select {
	case <-sigs:
	case <-time.After(d):
	}
}
