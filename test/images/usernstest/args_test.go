package main

import (
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestChildArgsRoundTrip(t *testing.T) {
	tests := []struct {
		in   childArgs
		argv []string
	}{
		{childArgs{name: "daemon", uid: 2, gid: 2}, []string{"usernstest", "child", "daemon", "2:2"}},
		{childArgs{name: "nobody", uid: 65534, gid: 65534, hold: time.Hour},
			[]string{"usernstest", "child", "nobody", "65534:65534", "hold", "1h0m0s"}},
	}
	for _, tt := range tests {
		argv := tt.in.argv()
		if !reflect.DeepEqual(argv, tt.argv) {
			t.Errorf("argv %q, want %q", argv, tt.argv)
		}
		back, err := parseChildArgs(argv[2:])
		if err != nil {
			t.Fatal(err)
		}
		if back != tt.in {
			t.Errorf("parsed %+v, want %+v", back, tt.in)
		}
	}
}

func TestParseChildArgsErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "want NAME UID:GID"},
		{[]string{"daemon"}, "want NAME UID:GID"},
		{[]string{"daemon", "2"}, "want UID:GID"},
		{[]string{"daemon", "2:2", "keep", "1s"}, `want "hold"`},
		{[]string{"daemon", "2:2", "hold", "soon"}, "hold duration"},
	}
	for _, tt := range tests {
		_, err := parseChildArgs(tt.args)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseChildArgs(%q): error %v, want one containing %q", tt.args, err, tt.want)
		}
	}
}

func TestParseParentArgs(t *testing.T) {
	tests := []struct {
		name    string
		env     string
		args    []string
		want    time.Duration
		wantErr string
	}{
		{name: "default", want: 0},
		{name: "flag", args: []string{"--hold", "90s"}, want: 90 * time.Second},
		{name: "flag with =", args: []string{"-hold=1h"}, want: time.Hour},
		{name: "env", env: "5m", want: 5 * time.Minute},
		{name: "flag beats env", env: "5m", args: []string{"--hold", "1s"}, want: time.Second},
		{name: "bad env", env: "long", wantErr: "USERNSTEST_HOLD"},
		{name: "bad flag", args: []string{"--hold", "x"}, wantErr: "invalid value"},
		{name: "negative", args: []string{"--hold", "-1s"}, wantErr: "negative"},
		{name: "stray argument", args: []string{"sleep"}, wantErr: "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvHold, tt.env)
			opts, err := parseParentArgs(tt.args, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if opts.hold != tt.want {
				t.Errorf("hold %v, want %v", opts.hold, tt.want)
			}
		})
	}
}
