package bundle

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"

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

// narrowSpec is the part of a spec the hook reads, in types of its own with
// only the fields it uses: the reference for decodeNarrowFast, and what
// encoding/json decodes when the fast path declines.
type narrowSpec struct {
	Process     *narrowProcess    `json:"process"`
	Root        *narrowRoot       `json:"root"`
	Mounts      []narrowMount     `json:"mounts"`
	Annotations map[string]string `json:"annotations"`
	Linux       *narrowLinux      `json:"linux"`
}

type narrowRoot struct {
	Path string `json:"path"`
}

type narrowMount struct {
	Destination string   `json:"destination"`
	Type        string   `json:"type"`
	Source      string   `json:"source"`
	Options     []string `json:"options"`
}

type narrowProcess struct {
	User         narrowUser          `json:"user"`
	Capabilities *narrowCapabilities `json:"capabilities"`
}

type narrowUser struct {
	UID            uint32   `json:"uid"`
	GID            uint32   `json:"gid"`
	AdditionalGids []uint32 `json:"additionalGids"`
}

type narrowCapabilities struct {
	Bounding []string `json:"bounding"`
}

type narrowLinux struct {
	Namespaces  []narrowNamespace `json:"namespaces"`
	UIDMappings idMappings        `json:"uidMappings"`
	GIDMappings idMappings        `json:"gidMappings"`
}

type narrowNamespace struct {
	Type string `json:"type"`
	Path string `json:"path"`
}

// decodeNarrow decodes the parts of config.json the hook reads: in one
// pass when the fast path takes the document, else with encoding/json, for
// its exact result or error.
func decodeNarrow(data []byte) (narrowSpec, error) {
	var n narrowSpec
	if err := decodeNarrowFast(data, &n); err == nil {
		return n, nil
	}
	n = narrowSpec{}
	err := json.Unmarshal(data, &n)
	return n, err
}

// ParseSpec decodes the parts of config.json the hook uses into a
// rspec.Spec (other fields are left empty) and reports whether it asks for
// a user namespace (a linux.namespaces entry of type "user", new or joined
// by path). A config without one is not checked further, so only JSON
// validity is required of it.
func ParseSpec(data []byte) (spec *rspec.Spec, userns bool, err error) {
	n, err := decodeNarrow(data)
	if err != nil {
		return nil, false, fmt.Errorf("config.json: invalid JSON: %w", err)
	}
	s := &rspec.Spec{Annotations: n.Annotations}
	if n.Root != nil {
		s.Root = &rspec.Root{Path: n.Root.Path}
	}
	for _, m := range n.Mounts {
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: m.Destination, Type: m.Type, Source: m.Source, Options: m.Options})
	}
	if n.Process != nil {
		u := n.Process.User
		s.Process = &rspec.Process{User: rspec.User{UID: u.UID, GID: u.GID, AdditionalGids: u.AdditionalGids}}
		if c := n.Process.Capabilities; c != nil {
			s.Process.Capabilities = &rspec.LinuxCapabilities{Bounding: c.Bounding}
		}
	}
	if n.Linux != nil {
		s.Linux = &rspec.Linux{UIDMappings: n.Linux.UIDMappings, GIDMappings: n.Linux.GIDMappings}
		for _, ns := range n.Linux.Namespaces {
			s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: rspec.LinuxNamespaceType(ns.Type), Path: ns.Path})
		}
	}
	_, userns = UserNamespacePath(s)
	return s, userns, nil
}

// NamespacePaths returns the namespaces of the given types that the
// container joins by path, in spec order.
func NamespacePaths(s *rspec.Spec, types ...rspec.LinuxNamespaceType) []rspec.LinuxNamespace {
	if s.Linux == nil {
		return nil
	}
	var out []rspec.LinuxNamespace
	for _, ns := range s.Linux.Namespaces {
		if ns.Path != "" && slices.Contains(types, ns.Type) {
			out = append(out, ns)
		}
	}
	return out
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
