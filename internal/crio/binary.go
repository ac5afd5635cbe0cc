package crio

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// BinaryVersion asks a built crio which release it is (`crio version`,
// with no configuration read), as a release tag such as v1.36.3: what a
// node runs decides which drop-in it gets, whatever directory it came from.
func BinaryVersion(ctx context.Context, crio string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, crio, "--config", "", "--config-dir", "", "version")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s version: %w: %s", crio, err, strings.TrimSpace(stderr.String()))
	}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "Version" {
			tag := "v" + strings.TrimSpace(v)
			if _, err := ParseRelease(tag); err != nil {
				return "", fmt.Errorf("%s version: %w", crio, err)
			}
			return tag, nil
		}
	}
	return "", fmt.Errorf("%s version printed no Version line: %s", crio, strings.TrimSpace(stdout.String()))
}
