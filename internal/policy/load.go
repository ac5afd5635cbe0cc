package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/BurntSushi/toml"
)

// maxFileSize bounds what the hook reads from a policy or subid file: both
// are a few lines, and the hook must not be made to read a huge file.
const maxFileSize = 1 << 20

// Parse decodes policy TOML, fills in defaults and validates the result.
// Unknown keys are errors: a misspelt "mdoe" must not silently leave the
// default in force.
func Parse(data []byte) (Policy, error) {
	var p Policy
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&p)
	if err != nil {
		return Policy{}, err
	}
	if undec := md.Undecoded(); len(undec) > 0 {
		keys := make([]string, len(undec))
		for i, k := range undec {
			keys[i] = k.String()
		}
		return Policy{}, fmt.Errorf("unknown key(s): %s", strings.Join(keys, ", "))
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
// policy it cannot read.
func Load(path string) (Policy, error) {
	explicit := path != ""
	if !explicit {
		path = DefaultPath
	}
	data, err := readBounded(path)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return Policy{}.Defaults(), nil
		}
		return Policy{}, fmt.Errorf("policy %s: %w", path, err)
	}
	p, err := Parse(data)
	if err != nil {
		return Policy{}, fmt.Errorf("policy %s: %w", path, err)
	}
	return p, nil
}

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%s)", st.Mode().Type())
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("larger than %d bytes", maxFileSize)
	}
	return data, nil
}
