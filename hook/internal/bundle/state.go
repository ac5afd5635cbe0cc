// Package bundle reads what an OCI runtime hands a hook: the container state
// on stdin and the bundle's config.json. Both are bounded in size and
// checked for the fields the hook relies on, so that a broken or hostile
// input gives a clear error instead of a wrong verdict.
package bundle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// MaxStateSize bounds the state read from stdin; a real one is well under
// a few KiB (the annotations are the bulk).
const MaxStateSize = 1 << 20

// ReadState decodes the OCI state (runtime-spec "state") a runtime writes to
// a hook's stdin. It does not look at Status: runc says "creating" and crun
// "created" at the same stage. The pid is checked by the caller, which knows
// whether it needs one.
func ReadState(r io.Reader) (*rspec.State, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxStateSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading: %w", err)
	}
	if len(data) > MaxStateSize {
		return nil, fmt.Errorf("larger than %d bytes", MaxStateSize)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("empty input")
	}
	var n state
	if decodeStateFast(data, &n) != nil {
		n = state{}
		if err := json.Unmarshal(data, &n); err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
	}
	st := rspec.State{ID: n.ID, Status: rspec.ContainerState(n.Status), Pid: n.Pid, Bundle: n.Bundle, Annotations: n.Annotations}
	if st.ID == "" {
		return nil, errors.New(`no container "id"`)
	}
	if st.Bundle == "" {
		return nil, errors.New(`no "bundle" path`)
	}
	if !filepath.IsAbs(st.Bundle) {
		return nil, fmt.Errorf("bundle path %q is not absolute", st.Bundle)
	}
	if st.Pid < 0 {
		return nil, fmt.Errorf("negative pid %d", st.Pid)
	}
	return &st, nil
}

// state is the part of the OCI state the hook reads, in a type of its own:
// the reference for decodeStateFast, and what encoding/json decodes when
// the fast path declines.
type state struct {
	ID          string            `json:"id"`
	Status      string            `json:"status"`
	Pid         int               `json:"pid"`
	Bundle      string            `json:"bundle"`
	Annotations map[string]string `json:"annotations"`
}
