package main

import (
	"reflect"
	"strings"
	"testing"

	images "github.com/crio-userns/crio-userns/test/images"
)

func TestParsePasswd(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Account
		wantErr string
	}{
		{
			name: "fedora accounts of the images",
			in:   images.PasswdFile,
			want: []Account{
				{"root", 0, 0}, {"daemon", 2, 2}, {"mail", 8, 12}, {"operator", 11, 0}, {"nobody", 65534, 65534},
			},
		},
		{
			name: "blank lines and comments",
			in:   "# comment\n\nroot:x:0:0::/:/bin/sh\n",
			want: []Account{{"root", 0, 0}},
		},
		{name: "empty", in: "", want: nil},
		{name: "largest valid id", in: "big:x:4294967294:1:::\n", want: []Account{{"big", 4294967294, 1}}},
		{name: "too few fields", in: "root:x:0:0\n", wantErr: "line 1: \"root:x:0:0\": want 7"},
		{name: "bad uid", in: "a:x:zero:0:::\n", wantErr: `user "a": uid`},
		{name: "bad gid", in: "a:x:0:-1:::\n", wantErr: `user "a": gid`},
		{name: "minus one is not an id", in: "a:x:4294967295:0:::\n", wantErr: "(uid_t)-1"},
		{name: "empty name", in: ":x:0:0:::\n", wantErr: "empty name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePasswd(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseGroup(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Group
		wantErr string
	}{
		{
			name: "fedora groups of the images",
			in:   images.GroupFile,
			want: []Group{{"root", 0, nil}, {"daemon", 2, nil}, {"mail", 12, nil}, {"nobody", 65534, nil}},
		},
		{name: "members", in: "wheel:x:10:alice,bob\n", want: []Group{{"wheel", 10, []string{"alice", "bob"}}}},
		{name: "too many fields", in: "a:x:1::\n", wantErr: "want 4"},
		{name: "bad gid", in: "a:x:one:\n", wantErr: `group "a": gid`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseGroup(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestLookups(t *testing.T) {
	accts, err := ParsePasswd(strings.NewReader(images.PasswdFile + "root:x:99:99:::\n"))
	if err != nil {
		t.Fatal(err)
	}
	groups, err := ParseGroup(strings.NewReader(images.GroupFile))
	if err != nil {
		t.Fatal(err)
	}
	// Every account the experiment uses is in the images' files, and the
	// first entry wins, as with getpwnam(3).
	for _, name := range Accounts {
		if _, ok := LookupAccount(accts, name); !ok {
			t.Errorf("account %s missing from images.PasswdFile", name)
		}
	}
	if a, _ := LookupAccount(accts, "root"); a.UID != 0 {
		t.Errorf("root resolved to uid %d, want the first entry's 0", a.UID)
	}
	if _, ok := LookupAccount(accts, "games"); ok {
		t.Errorf("found an account that is not there")
	}
	tests := []struct {
		gid  uint32
		want string
	}{{0, "root"}, {12, "mail"}, {65534, "nobody"}, {8, "?"}}
	for _, tt := range tests {
		if got := GroupName(groups, tt.gid); got != tt.want {
			t.Errorf("GroupName(%d) = %q, want %q", tt.gid, got, tt.want)
		}
	}
}
