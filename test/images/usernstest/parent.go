package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/crio-userns/crio-userns/internal/accounts"
)

// EnvHold sets the default for --hold, for images run without arguments.
const EnvHold = "USERNSTEST_HOLD"

// reportTimeout bounds the wait for a child's report line: a child that
// neither reports nor exits must not hang the experiment.
const reportTimeout = 30 * time.Second

// selfExe is how the parent re-executes itself. /proc/self/exe works inside
// any container with /proc, whatever the binary is called or where it lies.
var selfExe = "/proc/self/exe"

type parentOptions struct {
	hold time.Duration
}

func parseParentArgs(args []string, stderr io.Writer) (parentOptions, error) {
	var opts parentOptions
	if v := os.Getenv(EnvHold); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return opts, fmt.Errorf("%s=%q: %w", EnvHold, v, err)
		}
		opts.hold = d
	}
	fs := flag.NewFlagSet("usernstest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&opts.hold, "hold", opts.hold,
		"keep the children (as their accounts) and the parent alive this long after SUMMARY, for inspection from the host (env "+EnvHold+")")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: usernstest [--hold DURATION]   (field report 004's multi-user experiment)")
		fmt.Fprintln(stderr, "       usernstest pause                (or run as \"pause\": sleep until SIGTERM/SIGINT)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return opts, err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return opts, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if opts.hold < 0 {
		return opts, fmt.Errorf("--hold %v: negative", opts.hold)
	}
	return opts, nil
}

// runParent is field report 004's program: report who we are, then switch a
// child to each account, one at a time, and summarise. The exit code is 0
// whenever the experiment ran, since failed switches are a result, not an
// error: the SUMMARY line carries the verdict.
func runParent(args []string, stdout, stderr io.Writer) int {
	opts, err := parseParentArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "usernstest: %v\n", err)
		return 2
	}
	var sigs chan os.Signal
	if opts.hold > 0 {
		// Registered before any child exists, so a stop request during the
		// experiment is not lost (as PID 1 it would otherwise be ignored).
		sigs = make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	}

	writeProcInfo(stdout, "/proc/self")
	fmt.Fprintln(stdout, "--- children")
	accts, groups, acctErr := readAccounts()
	var results []ChildResult
	var held []*exec.Cmd
	for _, name := range Accounts {
		r, cmd := switchChild(name, accts, groups, acctErr, opts.hold, stderr)
		fmt.Fprintln(stdout, r.Line())
		results = append(results, r)
		if cmd != nil {
			held = append(held, cmd)
		}
	}
	fmt.Fprintln(stdout, Summary(results))

	if opts.hold > 0 {
		select {
		case <-sigs:
		case <-time.After(opts.hold):
		}
		stopChildren(held)
	}
	return 0
}

// switchChild runs one child for the account name and returns its report. In
// hold mode the child keeps running and is returned for stopChildren;
// otherwise it has been waited for.
func switchChild(name string, accts []accounts.User, groups []accounts.Group, acctErr error, hold time.Duration, stderr io.Writer) (ChildResult, *exec.Cmd) {
	fail := ChildResult{User: name}
	if acctErr != nil {
		fail.Err = fmt.Sprintf("reading accounts: %v", acctErr)
		return fail, nil
	}
	acct, ok := accounts.LookupUser(accts, name)
	if !ok {
		fail.Err = fmt.Sprintf("no user %q in %s", name, envOr(EnvPasswd, defaultPasswd))
		return fail, nil
	}
	fail.Known, fail.WantUID, fail.WantGID = true, acct.UID, acct.GID
	fail.Group = accounts.GroupName(groups, acct.GID)

	ca := childArgs{name: name, uid: acct.UID, gid: acct.GID, hold: hold}
	cmd := &exec.Cmd{Path: selfExe, Args: ca.argv(), Stderr: stderr}
	out, err := cmd.StdoutPipe()
	if err != nil {
		fail.Err = fmt.Sprintf("creating pipe: %v", err)
		return fail, nil
	}
	// An empty pipe as stdin rather than exec's default /dev/null: the
	// experiment must not depend on the image having a /dev.
	stdin, w, err := os.Pipe()
	if err != nil {
		fail.Err = fmt.Sprintf("creating pipe: %v", err)
		return fail, nil
	}
	w.Close()
	cmd.Stdin = stdin
	err = cmd.Start()
	stdin.Close() // the child has its copy
	if err != nil {
		fail.Err = fmt.Sprintf("starting child: %v", err)
		return fail, nil
	}
	line, err := readLine(out, reportTimeout)
	var r ChildResult
	if err == nil {
		r, err = ParseChildLine(line)
	}
	if err != nil {
		// Wait only for a child we could kill: one that switched to another
		// user cannot be killed without CAP_KILL, and waiting would hang.
		status := cmd.Process.Kill()
		if status == nil {
			status = cmd.Wait()
		}
		fail.Err = fmt.Sprintf("child gave no report: %v (exit: %v)", err, status)
		return fail, nil
	}
	if hold > 0 {
		return r, cmd
	}
	if err := cmd.Wait(); err != nil {
		// The report is in; an unclean exit afterwards is noted, not fatal.
		fmt.Fprintf(stderr, "usernstest: child %s: %v\n", name, err)
	}
	return r, nil
}

// readLine reads the child's one report line. The pipe is left open: a held
// child keeps its stdout, and closing the read end would only make a late
// write fail with EPIPE in the child.
func readLine(r io.Reader, timeout time.Duration) (string, error) {
	type result struct {
		line string
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		line, err := bufio.NewReader(r).ReadString('\n')
		if err != nil && line != "" && errors.Is(err, io.EOF) {
			err = nil // a report without trailing newline is still a report
		}
		ch <- result{line, err}
	}()
	select {
	case res := <-ch:
		return res.line, res.err
	case <-time.After(timeout):
		return "", fmt.Errorf("no report within %v", timeout)
	}
}

// stopChildren ends the held children. A parent without CAP_KILL cannot
// signal a child that switched to another user; those go when the parent
// exits, through the parent-death signal they armed (see holdAsChild).
func stopChildren(cmds []*exec.Cmd) {
	done := make(chan struct{}, len(cmds))
	waiting := 0
	for _, cmd := range cmds {
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			continue
		}
		waiting++
		go func() { _ = cmd.Wait(); done <- struct{}{} }()
	}
	deadline := time.After(5 * time.Second)
	for ; waiting > 0; waiting-- {
		select {
		case <-done:
		case <-deadline:
			return
		}
	}
}
