package bundle

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crio-userns/crio-userns/internal/safefile"
)

// MaxConfigSize bounds config.json. CRI-O's are tens of KiB; a spec with
// thousands of mounts or env entries still fits.
const MaxConfigSize = 16 << 20

// ReadConfig reads <dir>/config.json, refusing anything but a regular file
// of at most MaxConfigSize bytes.
func ReadConfig(dir string) ([]byte, error) {
	return safefile.Read(filepath.Join(dir, "config.json"), safefile.Options{Limit: MaxConfigSize})
}

// narrowSpec is the part of a spec the hook reads. Decoding into it rather
// than rspec.Spec skips building the rest (mounts, env, hooks, seccomp...),
// which is most of the decoding cost; encoding/json still validates the
// whole document.
type narrowSpec struct {
	Process *struct {
		User rspec.User `json:"user"`
	} `json:"process"`
	Root        *rspec.Root       `json:"root"`
	Annotations map[string]string `json:"annotations"`
	Linux       *struct {
		Namespaces  []rspec.LinuxNamespace `json:"namespaces"`
		UIDMappings []rspec.LinuxIDMapping `json:"uidMappings"`
		GIDMappings []rspec.LinuxIDMapping `json:"gidMappings"`
	} `json:"linux"`
}

// ParseSpec decodes the parts of config.json the hook uses into a
// rspec.Spec (other fields are left empty) and reports whether it asks for
// a user namespace (a linux.namespaces entry of type "user", new or joined
// by path). A config without one is not checked further, so only JSON
// validity is required of it.
func ParseSpec(data []byte) (spec *rspec.Spec, userns bool, err error) {
	var n narrowSpec
	if err := json.Unmarshal(data, &n); err != nil {
		return nil, false, fmt.Errorf("config.json: invalid JSON: %w", err)
	}
	s := &rspec.Spec{Root: n.Root, Annotations: n.Annotations}
	if n.Process != nil {
		s.Process = &rspec.Process{User: n.Process.User}
	}
	if n.Linux != nil {
		s.Linux = &rspec.Linux{
			Namespaces:  n.Linux.Namespaces,
			UIDMappings: n.Linux.UIDMappings,
			GIDMappings: n.Linux.GIDMappings,
		}
	}
	_, userns = UserNamespacePath(s)
	return s, userns, nil
}

// UserNamespacePath returns the path of the user namespace the container
// joins ("" when the runtime creates a new one) and whether there is one.
func UserNamespacePath(s *rspec.Spec) (path string, ok bool) {
	if s.Linux == nil {
		return "", false
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == rspec.UserNamespace {
			return ns.Path, true
		}
	}
	return "", false
}

// Rootfs returns the container's root directory on the host: root.path,
// relative to the bundle unless absolute.
func Rootfs(dir string, s *rspec.Spec) (string, error) {
	if s.Root == nil || s.Root.Path == "" {
		return "", fmt.Errorf("config.json: no root.path")
	}
	if filepath.IsAbs(s.Root.Path) {
		return filepath.Clean(s.Root.Path), nil
	}
	return filepath.Join(dir, s.Root.Path), nil
}
