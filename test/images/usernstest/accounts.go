package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Accounts are the users field report 004's program switches to, in its order.
var Accounts = []string{"root", "daemon", "operator", "nobody", "mail"}

// Environment variables naming the account databases. They exist for tests on
// the host, whose /etc/passwd need not have Fedora's accounts; in the image
// the defaults are the image's own files.
const (
	EnvPasswd     = "USERNSTEST_PASSWD"
	EnvGroup      = "USERNSTEST_GROUP"
	defaultPasswd = "/etc/passwd"
	defaultGroup  = "/etc/group"
)

// Account is one passwd(5) entry, reduced to what a switch needs.
type Account struct {
	Name string
	UID  uint32
	GID  uint32 // primary group
}

// Group is one group(5) entry.
type Group struct {
	Name    string
	GID     uint32
	Members []string
}

// ParsePasswd parses passwd(5) text. Blank lines and comments are skipped, as
// glibc's files backend does; any other malformed line is an error, because a
// test image with a broken passwd must not quietly report "no such user".
func ParsePasswd(r io.Reader) ([]Account, error) {
	var out []Account
	err := eachRecord(r, 7, func(line int, f []string) error {
		uid, err := parseID(f[2])
		if err != nil {
			return fmt.Errorf("line %d: user %q: uid: %w", line, f[0], err)
		}
		gid, err := parseID(f[3])
		if err != nil {
			return fmt.Errorf("line %d: user %q: gid: %w", line, f[0], err)
		}
		out = append(out, Account{Name: f[0], UID: uid, GID: gid})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("passwd: %w", err)
	}
	return out, nil
}

// ParseGroup parses group(5) text, with the same rules as ParsePasswd.
func ParseGroup(r io.Reader) ([]Group, error) {
	var out []Group
	err := eachRecord(r, 4, func(line int, f []string) error {
		gid, err := parseID(f[2])
		if err != nil {
			return fmt.Errorf("line %d: group %q: gid: %w", line, f[0], err)
		}
		var members []string
		if f[3] != "" {
			members = strings.Split(f[3], ",")
		}
		out = append(out, Group{Name: f[0], GID: gid, Members: members})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("group: %w", err)
	}
	return out, nil
}

func eachRecord(r io.Reader, nfields int, fn func(line int, fields []string) error) error {
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if strings.TrimSpace(text) == "" || strings.HasPrefix(text, "#") {
			continue
		}
		f := strings.Split(text, ":")
		if len(f) != nfields {
			return fmt.Errorf("line %d: %q: want %d colon-separated fields, got %d", line, text, nfields, len(f))
		}
		if f[0] == "" {
			return fmt.Errorf("line %d: %q: empty name", line, text)
		}
		if err := fn(line, f); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading: %w", err)
	}
	return nil
}

// parseID accepts 0..4294967294; (uid_t)-1 means "no change" to set*id(2)
// and is never a real account.
func parseID(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, err
	}
	if n == 1<<32-1 {
		return 0, fmt.Errorf("%s is (uid_t)-1, not an ID", s)
	}
	return uint32(n), nil
}

// LookupAccount returns the first entry named name, as getpwnam(3) does.
func LookupAccount(accts []Account, name string) (Account, bool) {
	for _, a := range accts {
		if a.Name == name {
			return a, true
		}
	}
	return Account{}, false
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

// readAccounts loads the passwd and group files named by the environment.
func readAccounts() ([]Account, []Group, error) {
	accts, err := parseFile(envOr(EnvPasswd, defaultPasswd), ParsePasswd)
	if err != nil {
		return nil, nil, err
	}
	groups, err := parseFile(envOr(EnvGroup, defaultGroup), ParseGroup)
	if err != nil {
		return nil, nil, err
	}
	return accts, groups, nil
}

func parseFile[T any](path string, parse func(io.Reader) ([]T, error)) ([]T, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	v, err := parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
