package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// ChildResult is what one child reports about its switch to an account.
//
// Its line form starts exactly as the trial run's output did
// ("CHILD user=daemon want=2:2 setgid=EPERM setuid=EPERM result=FAIL"), so
// anything matching those words keeps working; the diagnostics that followed
// later (got, group, setgroups, error) are appended after result.
type ChildResult struct {
	User      string
	Known     bool   // the account exists in passwd; Want* are meaningless otherwise
	WantUID   uint32 // the account's uid
	WantGID   uint32 // the account's primary gid
	Setgid    string // "ok", an errno name such as "EPERM", or "-" when not attempted
	Setuid    string
	Setgroups string
	Got       bool // GotUID/GotGID were read after the calls
	GotUID    uint32
	GotGID    uint32
	Group     string // name of WantGID in the group file, "?" if none
	OK        bool   // getuid()==WantUID && getgid()==WantGID after the calls
	Err       string // why the child could not switch or report; always the last field
}

const childPrefix = "CHILD "

// Line renders r as one output line (without newline).
func (r ChildResult) Line() string {
	var b strings.Builder
	b.WriteString(childPrefix + "user=" + r.User)
	if r.Known {
		fmt.Fprintf(&b, " want=%d:%d", r.WantUID, r.WantGID)
	} else {
		b.WriteString(" want=?:?")
	}
	fmt.Fprintf(&b, " setgid=%s setuid=%s result=%s", orDash(r.Setgid), orDash(r.Setuid), okFail(r.OK, "ok", "FAIL"))
	if r.Got {
		fmt.Fprintf(&b, " got=%d:%d", r.GotUID, r.GotGID)
	}
	if r.Group != "" {
		b.WriteString(" group=" + r.Group)
	}
	fmt.Fprintf(&b, " setgroups=%s", orDash(r.Setgroups))
	if r.Err != "" {
		// Newlines would split the report; everything after error= is the message.
		b.WriteString(" error=" + strings.ReplaceAll(r.Err, "\n", " "))
	}
	return b.String()
}

// ParseChildLine parses what Line produces.
func ParseChildLine(line string) (ChildResult, error) {
	rest, ok := strings.CutPrefix(strings.TrimRight(line, "\n"), childPrefix)
	if !ok {
		return ChildResult{}, fmt.Errorf("not a child report: %q", line)
	}
	var r ChildResult
	if before, msg, found := strings.Cut(rest, " error="); found {
		rest, r.Err = before, msg
	}
	seen := map[string]bool{}
	for _, field := range strings.Fields(rest) {
		key, val, ok := strings.Cut(field, "=")
		if !ok {
			return ChildResult{}, fmt.Errorf("child report %q: field %q has no '='", line, field)
		}
		seen[key] = true
		var err error
		switch key {
		case "user":
			r.User = val
		case "want":
			if val != "?:?" {
				r.Known = true
				r.WantUID, r.WantGID, err = parsePair(val)
			}
		case "got":
			r.Got = true
			r.GotUID, r.GotGID, err = parsePair(val)
		case "setgid":
			r.Setgid = dashToEmpty(val)
		case "setuid":
			r.Setuid = dashToEmpty(val)
		case "setgroups":
			r.Setgroups = dashToEmpty(val)
		case "group":
			r.Group = val
		case "result":
			switch val {
			case "ok":
				r.OK = true
			case "FAIL":
			default:
				err = fmt.Errorf("want ok or FAIL")
			}
		default:
			err = fmt.Errorf("unknown field")
		}
		if err != nil {
			return ChildResult{}, fmt.Errorf("child report %q: field %q: %w", line, field, err)
		}
	}
	for _, key := range []string{"user", "want", "result"} {
		if !seen[key] {
			return ChildResult{}, fmt.Errorf("child report %q: no %s= field", line, key)
		}
	}
	return r, nil
}

// Summary renders the last line of the program's output:
// "SUMMARY switched=N/M name=ok|fail ..." in the order of results.
func Summary(results []ChildResult) string {
	n := 0
	var b strings.Builder
	for _, r := range results {
		if r.OK {
			n++
		}
		fmt.Fprintf(&b, " %s=%s", r.User, okFail(r.OK, "ok", "fail"))
	}
	return fmt.Sprintf("SUMMARY switched=%d/%d%s", n, len(results), b.String())
}

// errnoName renders the outcome of one set*id call: "ok", or the errno's
// symbolic name (EPERM, EINVAL) since that is what the kernel said and what
// people grep for.
func errnoName(err error) string {
	if err == nil {
		return "ok"
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if name := unix.ErrnoName(errno); name != "" {
			return name
		}
		return "errno" + strconv.Itoa(int(errno))
	}
	return strings.ReplaceAll(err.Error(), " ", "_")
}

func parsePair(s string) (uint32, uint32, error) {
	a, b, ok := strings.Cut(s, ":")
	if !ok {
		return 0, 0, fmt.Errorf("want UID:GID")
	}
	u, err := strconv.ParseUint(a, 10, 32)
	if err != nil {
		return 0, 0, err
	}
	g, err := strconv.ParseUint(b, 10, 32)
	if err != nil {
		return 0, 0, err
	}
	return uint32(u), uint32(g), nil
}

func okFail(ok bool, yes, no string) string {
	if ok {
		return yes
	}
	return no
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func dashToEmpty(s string) string {
	if s == "-" {
		return ""
	}
	return s
}
