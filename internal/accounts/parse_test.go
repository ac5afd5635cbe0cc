package accounts

import (
	"reflect"
	"strings"
	"testing"
)

const fedoraPasswd = `root:x:0:0:Super User:/root:/bin/bash
daemon:x:2:2:daemon:/sbin:/usr/sbin/nologin
mail:x:8:12:mail:/var/spool/mail:/usr/sbin/nologin
operator:x:11:0:operator:/root:/usr/sbin/nologin
nobody:x:65534:65534:Kernel Overflow User:/:/usr/sbin/nologin
`

func TestParsePasswd(t *testing.T) {
	users, err := ParsePasswd(strings.NewReader(fedoraPasswd))
	if err != nil {
		t.Fatal(err)
	}
	want := []User{{"root", 0, 0, 1}, {"daemon", 2, 2, 2}, {"mail", 8, 12, 3}, {"operator", 11, 0, 4}, {"nobody", 65534, 65534, 5}}
	if !reflect.DeepEqual(users, want) {
		t.Fatalf("got %+v", users)
	}
	for _, tc := range []struct {
		name, in, wantErr string
		wantN             int
	}{
		{name: "skips blank comment and NIS lines", in: "\n# c\n+\n-bob\n+@netgroup::::::\nroot:x:0:0::/:/bin/sh\n", wantN: 1},
		{name: "short line", in: "root:x:0:0\n", wantErr: `line 1: "root:x:0:0": want 7 colon-separated fields, got 4`},
		{name: "bad uid", in: "root:x:zero:0:::\n", wantErr: `line 1: "root:x:zero:0:::": UID: strconv.ParseUint: parsing "zero": invalid syntax`},
		{name: "negative gid", in: "a:x:1:-1:::\n", wantErr: `GID: strconv.ParseUint: parsing "-1"`},
		{name: "uid above 32 bits", in: "a:x:4294967296:1:::\n", wantErr: "value out of range"},
		{name: "largest valid id", in: "big:x:4294967294:1:::\n", wantN: 1},
		{name: "uid minus one is not an ID", in: "a:x:4294967295:0:::\n", wantErr: `UID: 4294967295 is (uid_t)-1, not an ID`},
		{name: "gid minus one is not an ID", in: "a:x:1:4294967295:::\n", wantErr: `GID: 4294967295 is (uid_t)-1, not an ID`},
		{name: "empty name", in: ":x:1:1:::\n", wantErr: "empty name"},
		{name: "line too long", in: "a:x:1:1:" + strings.Repeat("g", maxLine) + "::\n", wantErr: "line 1: bufio.Scanner: token too long"},
		{name: "long line clipped in message", in: strings.Repeat("y", 200) + "\n", wantErr: `"` + strings.Repeat("y", 80) + `..."`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePasswd(strings.NewReader(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || len(got) != tc.wantN {
				t.Fatalf("got %v, %v", got, err)
			}
		})
	}
}

func TestParseGroup(t *testing.T) {
	groups, err := ParseGroup(strings.NewReader("root:x:0:\nmail:x:12:postfix,dovecot\nnobody:x:65534:\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []Group{{"root", 0, nil, 1}, {"mail", 12, []string{"postfix", "dovecot"}, 2}, {"nobody", 65534, nil, 3}}; !reflect.DeepEqual(groups, want) {
		t.Fatalf("got %+v", groups)
	}
	if _, err := ParseGroup(strings.NewReader("wheel:x:10\n")); err == nil || !strings.Contains(err.Error(), "want 4 colon-separated fields, got 3") {
		t.Fatalf("short group line: %v", err)
	}
	if _, err := ParseGroup(strings.NewReader("wheel:x:ten:\n")); err == nil || !strings.Contains(err.Error(), `GID: strconv.ParseUint: parsing "ten"`) {
		t.Fatalf("bad gid: %v", err)
	}
}

func TestLookups(t *testing.T) {
	users, err := ParsePasswd(strings.NewReader(fedoraPasswd + "root:x:99:99:::\n"))
	if err != nil {
		t.Fatal(err)
	}
	if u, ok := LookupUser(users, "root"); !ok || u.UID != 0 {
		t.Errorf("root = %+v, %v; want the first entry's UID 0", u, ok)
	}
	if _, ok := LookupUser(users, "games"); ok {
		t.Error("found an account that is not there")
	}
	groups, err := ParseGroup(strings.NewReader("root:x:0:\nmail:x:12:\n"))
	if err != nil {
		t.Fatal(err)
	}
	for gid, want := range map[uint32]string{0: "root", 12: "mail", 8: "?"} {
		if got := GroupName(groups, gid); got != want {
			t.Errorf("GroupName(%d) = %q, want %q", gid, got, want)
		}
	}
}

func FuzzParsePasswd(f *testing.F) {
	f.Add(fedoraPasswd)
	f.Add("a:x:1:1:::\n+\n# x\n")
	f.Add("a:x:4294967295:0:::")
	f.Fuzz(func(t *testing.T, s string) {
		users, err := ParsePasswd(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, u := range users {
			if u.Name == "" || u.Line < 1 || u.UID == noID || u.GID == noID {
				t.Fatalf("bad user %+v", u)
			}
		}
	})
}

func FuzzParseGroup(f *testing.F) {
	f.Add("root:x:0:\nmail:x:12:postfix\n")
	f.Add("a:b:c:d")
	f.Fuzz(func(t *testing.T, s string) {
		groups, err := ParseGroup(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, g := range groups {
			if g.Name == "" || g.Line < 1 || g.GID == noID {
				t.Fatalf("bad group %+v", g)
			}
		}
	})
}
