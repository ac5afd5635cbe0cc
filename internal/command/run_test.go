package command

import (
	"io"
	"os/exec"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	var log strings.Builder
	if err := Run(exec.Command("sh", "-c", "echo out; echo err >&2"), &log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "out") || !strings.Contains(log.String(), "err") {
		t.Errorf("log = %q, want both streams", log.String())
	}
	cmd := exec.Command("sh", "-c", "echo first; echo last; exit 3")
	cmd.Dir = "/"
	err := Run(cmd, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "sh -c") || !strings.Contains(err.Error(), "(in /)") ||
		!strings.Contains(err.Error(), "exit status 3") || !strings.HasSuffix(err.Error(), "first\nlast") {
		t.Errorf("err = %v", err)
	}
}

func TestTail(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\nc\n", 5, "a\nb\nc"},
		{"a\nb\nc\n", 2, "...\nb\nc"},
		{"", 3, ""},
	} {
		if got := Tail(tc.in, tc.n); got != tc.want {
			t.Errorf("Tail(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
