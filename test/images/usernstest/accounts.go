package main

import (
	"fmt"
	"io"
	"os"

	"github.com/crio-userns/crio-userns/internal/accounts"
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

// readAccounts loads the passwd and group files named by the environment,
// with the project's one passwd/group parser (the hook reads images' accounts
// with it too, so the two cannot disagree about a line).
func readAccounts() ([]accounts.User, []accounts.Group, error) {
	users, err := parseFile(envOr(EnvPasswd, defaultPasswd), accounts.ParsePasswd)
	if err != nil {
		return nil, nil, err
	}
	groups, err := parseFile(envOr(EnvGroup, defaultGroup), accounts.ParseGroup)
	if err != nil {
		return nil, nil, err
	}
	return users, groups, nil
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
