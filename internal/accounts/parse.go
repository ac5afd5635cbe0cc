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
	Name string
	GID  uint32
	Line int
}

// maxLine bounds one line; glibc has no such limit, but an account line
// longer than this in an image is not something to accommodate.
const maxLine = 64 << 10

// ParsePasswd reads passwd(5) text ("name:password:UID:GID:GECOS:dir:shell").
// Blank lines, comments and NIS compat lines ("+"/"-") are skipped as glibc
// does; any other malformed line is an error naming it, since a UID the hook
// cannot read is a UID it cannot check.
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
		groups = append(groups, Group{Name: f[0], GID: gid, Line: line})
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
	return uint32(n), nil
}

// clip keeps messages about hostile lines short.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
