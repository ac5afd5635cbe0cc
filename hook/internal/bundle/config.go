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
// only the fields it uses. Decoding into it rather than rspec.Spec skips
// building the rest (env, hooks, seccomp...), and encoding/json's per-type
// set-up, which every process pays once per type, stays small; it still
// validates the whole document.
type narrowSpec struct {
	Process *narrowProcess `json:"process"`
	Root    *struct {
		Path string `json:"path"`
	} `json:"root"`
	Mounts []struct {
		Destination string   `json:"destination"`
		Type        string   `json:"type"`
		Source      string   `json:"source"`
		Options     []string `json:"options"`
	} `json:"mounts"`
	Annotations map[string]string `json:"annotations"`
	Linux       *narrowLinux      `json:"linux"`
}

type narrowProcess struct {
	User struct {
		UID            uint32   `json:"uid"`
		GID            uint32   `json:"gid"`
		AdditionalGids []uint32 `json:"additionalGids"`
	} `json:"user"`
	Capabilities *struct {
		Bounding []string `json:"bounding"`
	} `json:"capabilities"`
}

type narrowLinux struct {
	Namespaces []struct {
		Type string `json:"type"`
		Path string `json:"path"`
	} `json:"namespaces"`
	UIDMappings idMappings `json:"uidMappings"`
	GIDMappings idMappings `json:"gidMappings"`
}

// decodeNarrow decodes the parts of config.json the hook reads. Its fast
// path picks those parts out with members and decodes only them, in
// document order, over one value, as encoding/json would; on any error it
// decodes the whole document with encoding/json, for its exact result.
func decodeNarrow(data []byte) (narrowSpec, error) {
	var n narrowSpec
	if err := decodeNarrowFast(data, &n); err == nil {
		return n, nil
	}
	n = narrowSpec{}
	err := json.Unmarshal(data, &n)
	return n, err
}

func decodeNarrowFast(data []byte, n *narrowSpec) error {
	top, err := members(data, "process", "root", "mounts", "annotations", "linux")
	if err != nil {
		return err
	}
	for _, raw := range top["process"] {
		if err := decodeObject(raw, &n.Process, func(sub map[string][][]byte, p *narrowProcess) error {
			return decodeInOrder(sub, map[string]any{"user": &p.User, "capabilities": &p.Capabilities})
		}, "user", "capabilities"); err != nil {
			return err
		}
	}
	if err := decodeInOrder(top, map[string]any{"root": &n.Root, "mounts": &n.Mounts, "annotations": &n.Annotations}); err != nil {
		return err
	}
	for _, raw := range top["linux"] {
		if err := decodeObject(raw, &n.Linux, func(sub map[string][][]byte, l *narrowLinux) error {
			return decodeInOrder(sub, map[string]any{"namespaces": &l.Namespaces, "uidMappings": &l.UIDMappings, "gidMappings": &l.GIDMappings})
		}, "namespaces", "uidMappings", "gidMappings"); err != nil {
			return err
		}
	}
	return nil
}

// decodeInOrder decodes each wanted member's values into its destination.
// ID maps in the canonical form skip encoding/json altogether (its
// validation pass alone costs about as much as reading them).
func decodeInOrder(m map[string][][]byte, dst map[string]any) error {
	for name, v := range dst {
		for _, raw := range m[name] {
			if ids, ok := v.(*idMappings); ok {
				if fast, ok := fastIDMappings(raw); ok {
					*ids = fast
					continue
				}
			}
			if err := json.Unmarshal(raw, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// decodeObject decodes raw into *dst as encoding/json decodes a pointer to
// a struct: null makes it nil, an object fills the existing struct (or a
// new one) with its members; anything else is left to encoding/json.
func decodeObject[T any](raw []byte, dst **T, fill func(map[string][][]byte, *T) error, wanted ...string) error {
	if string(raw) == "null" {
		*dst = nil
		return nil
	}
	if len(raw) == 0 || raw[0] != '{' {
		return errNotSimple
	}
	sub, err := members(raw, wanted...)
	if err != nil {
		return err
	}
	if *dst == nil {
		*dst = new(T)
	}
	return fill(sub, *dst)
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
