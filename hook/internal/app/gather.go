package app

import (
	"errors"
	"io/fs"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crio-userns/crio-userns/hook/internal/bundle"
	"github.com/crio-userns/crio-userns/hook/internal/checks"
	"github.com/crio-userns/crio-userns/hook/internal/nsfs"
	"github.com/crio-userns/crio-userns/hook/internal/registry"
	"github.com/crio-userns/crio-userns/internal/accounts"
	"github.com/crio-userns/crio-userns/internal/policy"
)

// subject is one container with what the hook read about it, from which
// the checks' Input is built.
type subject struct {
	dir    string
	spec   *rspec.Spec
	target bundle.Target
	pol    *policy.Resolved
	nsPath string // user namespace joined by path, "" for a new one
	pid    int
	live   *checks.Live // nil offline
	// usernsID is the container's user namespace (zero offline for a new
	// one), hostID the hook's.
	usernsID, hostID nsfs.ID
	// undeclared says the container's process is in a user namespace that
	// config.json does not ask for: its live maps are the ones in force.
	undeclared bool
	podNS      []checks.PodNamespace
}

func newSubject(dir string, spec *rspec.Spec, target bundle.Target, pol *policy.Resolved) *subject {
	nsPath, _ := bundle.UserNamespacePath(spec)
	return &subject{dir: dir, spec: spec, target: target, pol: pol, nsPath: nsPath}
}

func (s *subject) joined() bool { return s.nsPath != "" }

// maps returns the mappings in force: config.json's, or the live ones when
// the container joins a namespace and config.json lists none.
func (s *subject) maps() (uids, gids []rspec.LinuxIDMapping) {
	if s.spec.Linux != nil {
		uids, gids = s.spec.Linux.UIDMappings, s.spec.Linux.GIDMappings
	}
	if s.live != nil && (s.joined() || s.undeclared) {
		if len(uids) == 0 {
			uids = s.live.UIDs
		}
		if len(gids) == 0 {
			gids = s.live.GIDs
		}
	}
	return uids, gids
}

// origin classifies the container for check 3: native (the kubelet's
// mapping) or not.
func (s *subject) origin() checks.Origin {
	key, _ := bundle.UsernsMode(s.spec)
	uids, gids := s.maps()
	return checks.OriginOf(key, uids, gids)
}

// input is what the checks read about s.
func (s *subject) input() *checks.Input {
	uids, gids := s.maps()
	_, declared := bundle.UserNamespacePath(s.spec)
	return &checks.Input{
		Spec: s.spec, Policy: s.pol, Joined: s.joined() || s.undeclared,
		Userns:   declared || s.undeclared,
		UsernsID: s.usernsID, HostUsernsID: s.hostID, PodNamespaces: s.podNS,
		UIDs: uids, GIDs: gids, Origin: s.origin(),
		Live: s.live, Image: s.image,
	}
}

// image reads the rootfs's accounts. A missing file means no accounts; a
// missing rootfs is an error.
func (s *subject) image() checks.Image {
	var img checks.Image
	root, err := bundle.Rootfs(s.dir, s.spec)
	if err != nil {
		img.RootErr = err
		return img
	}
	read := func(name string) ([]byte, error) {
		data, err := accounts.ReadFileInRoot(root, name)
		if re := (*accounts.RootError)(nil); errors.As(err, &re) {
			img.RootErr = err
			return nil, nil
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return data, err
	}
	if data, err := read("/etc/passwd"); err != nil {
		img.PasswdErr = err
	} else if data != nil {
		img.Users, img.PasswdErr = accounts.ParsePasswd(bytesReader(data))
	}
	if img.RootErr != nil {
		return img
	}
	if data, err := read("/etc/group"); err != nil {
		img.GroupErr = err
	} else if data != nil {
		img.Groups, img.GroupErr = accounts.ParseGroup(bytesReader(data))
	}
	return img
}

// entry is s as a registry entry (its start time filled in by the caller).
func (s *subject) entry() *registry.Entry {
	uids, gids := s.maps()
	return &registry.Entry{
		NS:          s.usernsID,
		ContainerID: s.target.ContainerID,
		PodKey:      s.target.PodKey(),
		Namespace:   s.target.Namespace,
		Pod:         s.target.Pod,
		Container:   s.target.Container,
		PID:         s.pid,
		NSPath:      s.nsPath,
		UIDMaps:     uids,
		GIDMaps:     gids,
	}
}

// overlaps converts registry conflicts for check 7.
func overlaps(cs []registry.Conflict) []checks.Overlap {
	out := make([]checks.Overlap, 0, len(cs))
	for _, c := range cs {
		out = append(out, checks.Overlap{
			Map: c.Map, MineIndex: c.MineIndex,
			Mine:     checks.FormatMap([]rspec.LinuxIDMapping{c.Mine}),
			Theirs:   checks.FormatMap([]rspec.LinuxIDMapping{c.Theirs}),
			Shared:   c.Shared,
			OtherPod: dashJoin(c.Other.Namespace, c.Other.Pod), OtherCtr: dashOr(c.Other.Container), OtherCtrID: c.Other.ContainerID,
		})
	}
	return out
}

func dashOr(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func dashJoin(a, b string) string { return dashOr(a) + "/" + dashOr(b) }
