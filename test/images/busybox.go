package images

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// checkApplets fails unless busybox provides every applet the stand-in links
// to: a symlink to a missing applet would only fail inside a pod, as
// "applet not found". The check runs the host's busybox, which is the very
// binary the image gets.
func checkApplets(ctx context.Context, busybox string, applets []string) error {
	out, err := exec.CommandContext(ctx, busybox, "--list").Output()
	if err != nil {
		return fmt.Errorf("listing applets of %s: %w", busybox, err)
	}
	have := make(map[string]bool)
	for _, a := range strings.Fields(string(out)) {
		have[a] = true
	}
	var missing []string
	for _, a := range applets {
		if !have[a] {
			missing = append(missing, a)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s lacks applets %q that the Fedora stand-in links to", busybox, missing)
	}
	return nil
}
