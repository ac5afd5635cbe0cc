package app

import (
	"errors"
	"io/fs"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crio-userns/crio-userns/hook/internal/bundle"
	"github.com/crio-userns/crio-userns/hook/internal/checks"
	"github.com/crio-userns/crio-userns/hook/internal/registry"
	"github.com/crio-userns/crio-userns/internal/accounts"
	"github.com/crio-userns/crio-userns/internal/policy"
)

// subject is one container with everything the checks need.
type subject struct {
	dir    string
	spec   *rspec.Spec
	target bundle.Target
	pol    *policy.Resolved
	nsPath string // user namespace joined by path, "" for a new one
	// live maps, when a process exists (hook mode)
	haveLive         bool
	pid              int
	liveUID, liveGID []rspec.LinuxIDMapping
}

func (s *subject) joined() bool { return s.nsPath != "" }

// maps returns the mappings in force: config.json's, or the live ones when
// the container joins a namespace and config.json lists none.
func (s *subject) maps() (uids, gids []rspec.LinuxIDMapping) {
	uids, gids = s.spec.Linux.UIDMappings, s.spec.Linux.GIDMappings
	if s.haveLive && s.joined() {
		if len(uids) == 0 {
			uids = s.liveUID
		}
		if len(gids) == 0 {
			gids = s.liveGID
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

// checksOneToSix runs every check but the registry one, in order.
func (s *subject) checksOneToSix(step func(string)) []checks.Finding {
	uids, gids := s.maps()
	// In validate mode a joined namespace with no maps in config.json has
	// nothing to check until the container exists.
	joinedOK := s.joined()
	var out []checks.Finding
	step("structure")
	out = append(out, checks.CheckStructure(checks.UID, uids, joinedOK)...)
	out = append(out, checks.CheckStructure(checks.GID, gids, joinedOK)...)
	step("host-root")
	out = append(out, checks.CheckHostRoot(checks.UID, uids, s.pol.AllowHostRoot)...)
	out = append(out, checks.CheckHostRoot(checks.GID, gids, s.pol.AllowHostRoot)...)
	step("allowed-ranges")
	origin := s.origin()
	au := checks.Allowed{Ranges: s.pol.UIDs, Source: s.pol.UIDSource, RootRange: s.pol.RootRange, PolicyKey: "allowed_uids"}
	ag := checks.Allowed{Ranges: s.pol.GIDs, Source: s.pol.GIDSource, RootRange: s.pol.RootRange, PolicyKey: "allowed_gids"}
	if kr := s.pol.Kubelet; kr != nil {
		au.Kubelet = &checks.KubeletAllowed{Ranges: kr.UIDs, Source: kr.UIDSource}
		ag.Kubelet = &checks.KubeletAllowed{Ranges: kr.GIDs, Source: kr.GIDSource}
	}
	out = append(out, checks.CheckAllowedRanges(checks.UID, uids, au, origin)...)
	out = append(out, checks.CheckAllowedRanges(checks.GID, gids, ag, origin)...)
	step("process-user")
	if len(uids) > 0 && len(gids) > 0 {
		out = append(out, checks.CheckProcessUser(s.spec.Process, uids, gids, s.pol.RootRange)...)
	}
	if s.haveLive {
		step("live-maps")
		out = append(out, checks.CheckLiveMaps(checks.UID, s.spec.Linux.UIDMappings, s.liveUID, s.pid, s.joined())...)
		out = append(out, checks.CheckLiveMaps(checks.GID, s.spec.Linux.GIDMappings, s.liveGID, s.pid, s.joined())...)
	}
	if s.pol.ImageAccounts != policy.AccountsOff && len(uids) > 0 && len(gids) > 0 {
		step("image-accounts")
		out = append(out, checks.CheckImageAccounts(s.image(), uids, gids, accountsSeverity(s.pol.ImageAccounts))...)
	}
	return out
}

func accountsSeverity(m policy.AccountsMode) checks.Severity {
	if m == policy.AccountsEnforce {
		return checks.Error
	}
	return checks.Warning
}

// image reads the rootfs's accounts. A missing file means no accounts.
func (s *subject) image() checks.Image {
	var img checks.Image
	root, err := bundle.Rootfs(s.dir, s.spec)
	if err != nil {
		img.PasswdErr = err
		return img
	}
	read := func(name string) ([]byte, error) {
		data, err := accounts.ReadFileInRoot(root, name)
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
	if data, err := read("/etc/group"); err != nil {
		img.GroupErr = err
	} else if data != nil {
		img.Groups, img.GroupErr = accounts.ParseGroup(bytesReader(data))
	}
	return img
}

// entry is s as a registry entry (identity filled in by the caller).
func (s *subject) entry() registry.Entry {
	uids, gids := s.maps()
	return registry.Entry{
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
