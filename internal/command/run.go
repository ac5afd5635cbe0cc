// Package command runs the external tools the build machinery drives (go,
// make, git, rpmbuild) with their output both streamed and kept for errors.
package command

import (
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"strings"
)

// Run runs cmd with its output going to log; on failure the error names the
// command and its directory and carries the last 40 lines of its output.
func Run(cmd *exec.Cmd, log io.Writer) error {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.MultiWriter(&out, log), io.MultiWriter(&out, log)
	if err := cmd.Run(); err != nil {
		where := ""
		if cmd.Dir != "" {
			where = " (in " + cmd.Dir + ")"
		}
		return fmt.Errorf("%s%s: %w\n%s", strings.Join(cmd.Args, " "), where, err, Tail(out.String(), 40))
	}
	return nil
}

// Tail returns the last lines of s, marking a cut with "...".
func Tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = append([]string{"..."}, parts[len(parts)-lines:]...)
	}
	return strings.Join(parts, "\n")
}
