package images

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckStatic(t *testing.T) {
	text := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(text, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want string // "" for static
	}{
		// Debian's coreutils are dynamically linked against libc.
		{"/bin/ls", "dynamically linked"},
		{text, "checking"},
		{"/nonexistent", "checking"},
	}
	if _, err := os.Stat(DefaultBusybox); err == nil {
		tests = append(tests, struct{ path, want string }{DefaultBusybox, ""})
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			err := checkStatic(tt.path)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("want static, got %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
