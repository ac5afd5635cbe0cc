package main

import (
	"strings"
	"testing"

	"github.com/crio-userns/crio-userns/internal/accounts"
	images "github.com/crio-userns/crio-userns/test/images"
)

// Every account the experiment switches to is in the images' files, read
// with the parser the hook uses for image accounts.
func TestImageAccounts(t *testing.T) {
	users, err := accounts.ParsePasswd(strings.NewReader(images.PasswdFile))
	if err != nil {
		t.Fatal(err)
	}
	groups, err := accounts.ParseGroup(strings.NewReader(images.GroupFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range Accounts {
		u, ok := accounts.LookupUser(users, name)
		if !ok {
			t.Errorf("account %s missing from images.PasswdFile", name)
			continue
		}
		if accounts.GroupName(groups, u.GID) == "?" {
			t.Errorf("account %s: primary group %d missing from images.GroupFile", name, u.GID)
		}
	}
}
