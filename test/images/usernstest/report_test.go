package main

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

func TestChildLine(t *testing.T) {
	tests := []struct {
		name string
		r    ChildResult
		want string
	}{
		{
			name: "switched",
			r: ChildResult{User: "daemon", Known: true, WantUID: 2, WantGID: 2, Setgid: "ok", Setuid: "ok", Setgroups: "ok",
				Got: true, GotUID: 2, GotGID: 2, Group: "daemon", OK: true},
			want: "CHILD user=daemon want=2:2 setgid=ok setuid=ok result=ok got=2:2 group=daemon setgroups=ok",
		},
		{
			// Field report 000's restricted SCC: SETUID and SETGID dropped.
			name: "capabilities dropped",
			r: ChildResult{User: "daemon", Known: true, WantUID: 2, WantGID: 2, Setgid: "EPERM", Setuid: "EPERM", Setgroups: "EPERM",
				Got: true, GotUID: 0, GotGID: 0, Group: "daemon"},
			want: "CHILD user=daemon want=2:2 setgid=EPERM setuid=EPERM result=FAIL got=0:0 group=daemon setgroups=EPERM",
		},
		{
			name: "unknown account",
			r:    ChildResult{User: "mail", Err: "no user \"mail\" in /etc/passwd"},
			want: "CHILD user=mail want=?:? setgid=- setuid=- result=FAIL setgroups=- error=no user \"mail\" in /etc/passwd",
		},
		{
			name: "multi-line error is kept on one line",
			r:    ChildResult{User: "x", Known: true, Err: "a\nb"},
			want: "CHILD user=x want=0:0 setgid=- setuid=- result=FAIL setgroups=- error=a b",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line := tt.r.Line()
			if line != tt.want {
				t.Fatalf("Line()\n got %q\nwant %q", line, tt.want)
			}
			// The trial run's prefix stays intact for anything matching it.
			if !strings.HasPrefix(line, "CHILD user="+tt.r.User+" want=") {
				t.Errorf("line %q lost the CHILD prefix", line)
			}
			back, err := ParseChildLine(line + "\n")
			if err != nil {
				t.Fatal(err)
			}
			want := tt.r
			want.Err = strings.ReplaceAll(want.Err, "\n", " ")
			if !reflect.DeepEqual(back, want) {
				t.Errorf("round trip:\n got %+v\nwant %+v", back, want)
			}
		})
	}
}

func TestParseChildLineErrors(t *testing.T) {
	tests := []struct{ line, want string }{
		{"SUMMARY switched=0/5", "not a child report"},
		{"CHILD user=a want=1:1", "no result= field"},
		{"CHILD user=a result=ok", "no want= field"},
		{"CHILD user=a want=1 result=ok", "want UID:GID"},
		{"CHILD user=a want=1:1 result=maybe", "want ok or FAIL"},
		{"CHILD user=a want=1:1 result=ok color=blue", "unknown field"},
		{"CHILD user=a want=1:1 result=ok junk", "has no '='"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			_, err := ParseChildLine(tt.line)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestSummary(t *testing.T) {
	res := func(oks ...bool) []ChildResult {
		var out []ChildResult
		for i, ok := range oks {
			out = append(out, ChildResult{User: Accounts[i], OK: ok})
		}
		return out
	}
	tests := []struct {
		name string
		in   []ChildResult
		want string
	}{
		{"all", res(true, true, true, true, true), "SUMMARY switched=5/5 root=ok daemon=ok operator=ok nobody=ok mail=ok"},
		{"root only", res(true, false, false, false, false), "SUMMARY switched=1/5 root=ok daemon=fail operator=fail nobody=fail mail=fail"},
		{"none", res(false, false, false, false, false), "SUMMARY switched=0/5 root=fail daemon=fail operator=fail nobody=fail mail=fail"},
		{"no accounts", nil, "SUMMARY switched=0/0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Summary(tt.in); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestErrnoName(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, "ok"},
		{syscall.EPERM, "EPERM"},
		{syscall.EINVAL, "EINVAL"},
		{fmt.Errorf("setuid: %w", syscall.EPERM), "EPERM"},
		{syscall.Errno(4000), "errno4000"},
		{errors.New("not supported"), "not_supported"},
	}
	for _, tt := range tests {
		if got := errnoName(tt.err); got != tt.want {
			t.Errorf("errnoName(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
