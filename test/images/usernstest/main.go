// Command usernstest reproduces field report 004's experiment inside a
// container: does a process that is root in the container's user namespace
// manage to run children as other accounts of the image (root, daemon,
// operator, nobody, mail)?
//
// Output (the node bench and e2e tests parse it):
//
//	--- uid_map
//	<verbatim /proc/self/uid_map>
//	--- gid_map
//	<verbatim /proc/self/gid_map>
//	--- status
//	<the Uid, Gid, CapBnd and CapEff lines of /proc/self/status>
//	--- children
//	CHILD user=root want=0:0 setgid=ok setuid=ok result=ok got=0:0 group=root setgroups=ok
//	... one line per account ...
//	SUMMARY switched=N/5 root=ok|fail daemon=... operator=... nobody=... mail=...
//
// Accounts are looked up in the image's /etc/passwd and /etc/group
// (USERNSTEST_PASSWD and USERNSTEST_GROUP override the paths, for tests on a
// host). Each child is this binary re-executed as "usernstest child NAME
// UID:GID [hold DURATION]"; with --hold (or USERNSTEST_HOLD) the children stay
// alive as their accounts and the parent stays alive after SUMMARY, so the
// host's /proc shows which host UIDs they got.
//
// Run as "pause" (argv[0]'s base name, or first argument), it is the node's
// pause process instead: it sleeps until SIGTERM or SIGINT and exits 0.
//
// Build it static: CGO_ENABLED=0 go build -trimpath.
package main

import (
	"io"
	"os"
	"path/filepath"
)

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

func run(argv []string, stdout, stderr io.Writer) int {
	var args []string
	if len(argv) > 1 {
		args = argv[1:]
	}
	switch {
	case len(argv) > 0 && filepath.Base(argv[0]) == "pause":
		return runPause()
	case len(args) > 0 && args[0] == "pause":
		return runPause()
	case len(args) > 0 && args[0] == "child":
		return runChild(args[1:], stdout, stderr)
	}
	return runParent(args, stdout, stderr)
}
