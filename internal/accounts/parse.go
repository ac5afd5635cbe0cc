package accounts

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// User is one passwd(5) entry.
type User struct {
	Name string
	UID  uint32
	GID  uint32 // primary group
	Line int
}

// Group is one group(5) entry.
type Group struct {
	Name    string
	GID     uint32
	Members []string
	Line    int
}

// maxLine bounds one line; glibc has no such limit, but an account line
// longer than this in an image is not something to accommodate.
const maxLine = 64 << 10

// ParsePasswd reads passwd(5) text ("name:password:UID:GID:GECOS:dir:shell").
// Blank lines, comments and NIS compat lines ("+"/"-") are skipped as glibc
// does; any other malformed line is an error naming it, since a UID the hook
// cannot read is a UID it cannot check. 4294967295 is (uid_t)-1, which
// setuid(2) and chown(2) read as "no change", never an account's ID: a
// line with it is malformed too.
func ParsePasswd(r io.Reader) ([]User, error) {
	var users []User
	err := scan(r, 7, func(line int, f []string) error {
		uid, err := parseID(f[2])
		if err != nil {
			return fmt.Errorf("UID: %w", err)
		}
		gid, err := parseID(f[3])
		if err != nil {
			return fmt.Errorf("GID: %w", err)
		}
		users = append(users, User{Name: f[0], UID: uid, GID: gid, Line: line})
		return nil
	})
	return users, err
}

// ParseGroup reads group(5) text ("name:password:GID:members").
func ParseGroup(r io.Reader) ([]Group, error) {
	var groups []Group
	err := scan(r, 4, func(line int, f []string) error {
		gid, err := parseID(f[2])
		if err != nil {
			return fmt.Errorf("GID: %w", err)
		}
		var members []string
		if f[3] != "" {
			members = strings.Split(f[3], ",")
		}
		groups = append(groups, Group{Name: f[0], GID: gid, Members: members, Line: line})
		return nil
	})
	return groups, err
}

func scan(r io.Reader, nfields int, each func(line int, fields []string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if strings.TrimSpace(text) == "" || text[0] == '#' || text[0] == '+' || text[0] == '-' {
			continue
		}
		fields := strings.Split(text, ":")
		if len(fields) != nfields {
			return fmt.Errorf("line %d: %q: want %d colon-separated fields, got %d", line, clip(text), nfields, len(fields))
		}
		if fields[0] == "" {
			return fmt.Errorf("line %d: %q: empty name", line, clip(text))
		}
		if err := each(line, fields); err != nil {
			return fmt.Errorf("line %d: %q: %w", line, clip(text), err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("line %d: %w", line+1, err)
	}
	return nil
}

func parseID(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, err
	}
	if n == noID {
		return 0, fmt.Errorf("%s is (uid_t)-1, not an ID", s)
	}
	return uint32(n), nil
}

// noID is (uid_t)-1 and (gid_t)-1.
const noID = 1<<32 - 1

// LookupUser returns the first entry named name, as getpwnam(3) does.
func LookupUser(users []User, name string) (User, bool) {
	for _, u := range users {
		if u.Name == name {
			return u, true
		}
	}
	return User{}, false
}

// GroupName returns the name of the first group with gid, as getgrgid(3)
// does, or "?" when there is none.
func GroupName(groups []Group, gid uint32) string {
	for _, g := range groups {
		if g.GID == gid {
			return g.Name
		}
	}
	return "?"
}

// clip keeps messages about hostile lines short.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
