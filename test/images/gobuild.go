package images

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// usernstestPackage is the usernstest command, relative to the module root.
const usernstestPackage = "./test/images/usernstest"

// goTool returns the go command: the given one, "go" on PATH (go test puts
// its own GOROOT/bin there), or the project's documented install location.
func goTool(given string) (string, error) {
	if given != "" {
		return given, nil
	}
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	const fallback = "/usr/local/go/bin/go"
	if _, err := os.Stat(fallback); err == nil {
		return fallback, nil
	}
	return "", errors.New("no go command: not on PATH and not at " + fallback)
}

// buildStatic compiles pkg (relative to moduleRoot) into out as a static,
// reproducible binary for this machine: no cgo (so no libc and no dynamic
// loader inside images that have neither), -trimpath and -buildvcs=false so
// neither the checkout's location nor its commit changes the bytes and thus
// the image digests, -s -w because symbols are dead weight in a test image.
// Go's build cache makes an unchanged rebuild cost a fraction of a second.
func buildStatic(ctx context.Context, goCmd, moduleRoot, pkg, out string) error {
	cmd := exec.CommandContext(ctx, goCmd, "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Dir = moduleRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s in %s: %w\n%s", pkg, moduleRoot, err, strings.TrimSpace(stderr.String()))
	}
	if err := checkStatic(out); err != nil {
		return fmt.Errorf("go build %s: %w", pkg, err)
	}
	return nil
}

// checkStatic fails unless path is an ELF executable that needs no dynamic
// loader and no shared library: the images contain no libc to satisfy either.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("checking %s is static: %w", path, err)
	}
	defer f.Close()
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return fmt.Errorf("%s is an ELF %v, not an executable", path, f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked (has PT_INTERP)", path)
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		return fmt.Errorf("reading dynamic section of %s: %w", path, err)
	}
	if len(libs) > 0 {
		return fmt.Errorf("%s needs shared libraries %v", path, libs)
	}
	return nil
}
