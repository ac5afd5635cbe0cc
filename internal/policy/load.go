package policy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/crio-userns/crio-userns/internal/safefile"
)

// maxFileSize bounds what the hook reads from a policy or subid file: both
// are a few lines, and the hook must not be made to read a huge file.
const maxFileSize = 1 << 20

// Parse decodes policy TOML, fills in defaults and validates the result.
// Unknown keys are errors: a misspelt "mdoe" must not silently leave the
// default in force.
func Parse(data []byte) (Policy, error) {
	var p Policy
	if err := decodeTOML(string(data), &p); err != nil {
		return Policy{}, err
	}
	p = p.Defaults()
	if err := p.Validate(); err != nil {
		return Policy{}, err
	}
	return p, nil
}

// Load reads the policy at path. When path is "" the DefaultPath is used and
// its absence means the documented defaults; a path given explicitly must
// exist. Every other failure is an error, so that the hook fails closed on a
// policy it cannot read; that includes a policy someone other than root
// could have written (a *safefile.UntrustedError), which could switch the
// hook to audit mode or widen its ranges.
func Load(path string) (Policy, error) {
	explicit := path != ""
	if !explicit {
		path = DefaultPath
	}
	data, err := readTrusted(path)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return Policy{}.Defaults(), nil
		}
		return Policy{}, fmt.Errorf("policy %w", err)
	}
	p, err := Parse(data)
	if err != nil {
		return Policy{}, fmt.Errorf("policy %s: %w", path, err)
	}
	return p, nil
}

// readTrusted reads a policy or subid file: bounded, never blocking, only a
// regular file owned by root and not writable by group or others. Its errors
// start with the path.
func readTrusted(path string) ([]byte, error) {
	data, err := safefile.Read(path, safefile.Options{Limit: maxFileSize, Trusted: true})
	var pe *os.PathError
	if errors.As(err, &pe) && pe.Path == path {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, err
}
