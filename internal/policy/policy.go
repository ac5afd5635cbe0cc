// Package policy is the model of /etc/crio-userns/policy.toml: what the
// crio-userns-hook enforces and how. The file is TOML, like CRI-O's own
// configuration; every key is optional and has the default documented on its
// field, so a missing file means "the defaults".
package policy

import (
	"fmt"
	"strings"
	"time"

	"github.com/crio-userns/crio-userns/internal/idmap"
)

// DefaultPath is where the hook looks for its policy when --policy is not
// given.
const DefaultPath = "/etc/crio-userns/policy.toml"

// Mode says what a failed check does.
type Mode string

const (
	// Enforce refuses the container: the hook exits 1 and CreateContainer fails.
	Enforce Mode = "enforce"
	// Audit logs what enforce would refuse and lets the container run.
	Audit Mode = "audit"
)

// AccountsMode says what check 6 (image accounts outside the map) does.
type AccountsMode string

const (
	// AccountsWarn logs unmapped image accounts but never refuses for them.
	AccountsWarn AccountsMode = "warn"
	// AccountsEnforce treats unmapped image accounts like any failed check.
	AccountsEnforce AccountsMode = "enforce"
	// AccountsOff skips check 6 (the rootfs is not read).
	AccountsOff AccountsMode = "off"
)

// Policy is the file as written. Zero values mean "default" for strings;
// Defaults fills them in.
type Policy struct {
	// Mode is "enforce" (default) or "audit".
	Mode Mode `toml:"mode"`
	// AllowHostRoot lets an extent map host UID 0 or GID 0 (default false).
	AllowHostRoot bool `toml:"allow_host_root"`
	// ImageAccounts is "warn" (default), "enforce" or "off".
	ImageAccounts AccountsMode `toml:"image_accounts"`

	// AllowedUIDs and AllowedGIDs are the host ranges ("first-last" or a
	// single ID) that extents may use. Default (when empty): the ranges that
	// SubIDFile/SubGIDFile delegate to SubIDOwner.
	AllowedUIDs []string `toml:"allowed_uids"`
	AllowedGIDs []string `toml:"allowed_gids"`
	// SubIDOwner is the subuid/subgid owner whose ranges are the default
	// allowed ranges (default "containers", containers/storage's user).
	SubIDOwner string `toml:"subid_owner"`
	// SubUIDFile and SubGIDFile default to /etc/subuid and /etc/subgid.
	SubUIDFile string `toml:"subuid_file"`
	SubGIDFile string `toml:"subgid_file"`

	// KubeletSubIDOwner is the subuid/subgid owner whose ranges the kubelet
	// hands native Kubernetes user namespaces (pod hostUsers: false) out of,
	// as the kubelet itself reads them with getsubids (default "kubelet", the
	// only name the kubelet looks up). Extents of a native user namespace may
	// lie in these ranges besides the allowed ones. "none" disables the
	// kubelet range: native user namespaces must then fit the allowed ranges
	// like any other.
	KubeletSubIDOwner string `toml:"kubelet_subid_owner"`
	// KubeletDefaultRange is the kubelet's range when the subid files have no
	// entry for KubeletSubIDOwner. Default "65536-4294967295", the kubelet's
	// built-in default (getKubeletMappings: every ID above 0-65535); "none"
	// allows native user namespaces no range of the kubelet's then.
	KubeletDefaultRange string `toml:"kubelet_default_range"`

	// ProjectRootRange is where a single-ID root extent (container ID 0,
	// size 1: CRI-O's map-to-root) may point besides the allowed ranges, and
	// the extents pods of one namespace may share (check 7). Default
	// "1000000000-1999999999", OpenShift's project UID ranges; "none"
	// disables both.
	ProjectRootRange string `toml:"project_root_range"`

	// RegistryDir holds the registry of running user namespaces (check 7).
	// Default /run/crio-userns (a tmpfs: it starts empty at boot, as the
	// namespaces it describes do).
	RegistryDir string `toml:"registry_dir"`

	// Timeout is the hook's own deadline (default "2s"). Keep it below the
	// hooks.d "timeout" (5 s in contrib/hooks.d) so that the hook reports its
	// own timeout before the runtime kills it.
	Timeout Duration `toml:"timeout"`

	// AuditLog is where findings are recorded besides stderr (the runtime
	// drops a hook's stderr when it exits 0, so audit-mode and warn findings
	// need a second place): "syslog" (default; /dev/log, skipped when absent),
	// "none", or an absolute file path (appended to, created 0600).
	AuditLog string `toml:"audit_log"`
}

// Duration is a time.Duration written as a Go duration string ("2s").
type Duration struct{ time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler for TOML.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Defaults of the fields that have one.
const (
	DefaultSubIDOwner        = "containers"
	DefaultSubUIDFile        = "/etc/subuid"
	DefaultSubGIDFile        = "/etc/subgid"
	DefaultProjectRootRange  = "1000000000-1999999999"
	DefaultKubeletSubIDOwner = "kubelet"
	// DefaultKubeletRange mirrors the kubelet's own default when the
	// "kubelet" user has no subordinate IDs (or no getsubids): first ID
	// 1<<16, length 1<<32 - 1<<16.
	DefaultKubeletRange = "65536-4294967295"
	DefaultRegistryDir  = "/run/crio-userns"
	DefaultTimeout      = 2 * time.Second
	DefaultAuditLog     = "syslog"
	// MaxTimeout bounds the hook's deadline; contrib/hooks.d gives the
	// runtime a 5 s timeout.
	MaxTimeout = 4 * time.Second
)

// Defaults returns p with every unset field set to its default.
func (p Policy) Defaults() Policy {
	if p.Mode == "" {
		p.Mode = Enforce
	}
	if p.ImageAccounts == "" {
		p.ImageAccounts = AccountsWarn
	}
	if p.SubIDOwner == "" {
		p.SubIDOwner = DefaultSubIDOwner
	}
	if p.SubUIDFile == "" {
		p.SubUIDFile = DefaultSubUIDFile
	}
	if p.SubGIDFile == "" {
		p.SubGIDFile = DefaultSubGIDFile
	}
	if p.ProjectRootRange == "" {
		p.ProjectRootRange = DefaultProjectRootRange
	}
	if p.KubeletSubIDOwner == "" {
		p.KubeletSubIDOwner = DefaultKubeletSubIDOwner
	}
	if p.KubeletDefaultRange == "" {
		p.KubeletDefaultRange = DefaultKubeletRange
	}
	if p.RegistryDir == "" {
		p.RegistryDir = DefaultRegistryDir
	}
	if p.Timeout.Duration == 0 {
		p.Timeout.Duration = DefaultTimeout
	}
	if p.AuditLog == "" {
		p.AuditLog = DefaultAuditLog
	}
	return p
}

// Validate checks the values of a defaulted policy.
func (p Policy) Validate() error {
	switch p.Mode {
	case Enforce, Audit:
	default:
		return fmt.Errorf("mode = %q: want \"enforce\" or \"audit\"", p.Mode)
	}
	switch p.ImageAccounts {
	case AccountsWarn, AccountsEnforce, AccountsOff:
	default:
		return fmt.Errorf("image_accounts = %q: want \"warn\", \"enforce\" or \"off\"", p.ImageAccounts)
	}
	if _, err := parseRanges(p.AllowedUIDs); err != nil {
		return fmt.Errorf("allowed_uids: %w", err)
	}
	if _, err := parseRanges(p.AllowedGIDs); err != nil {
		return fmt.Errorf("allowed_gids: %w", err)
	}
	if _, err := p.projectRootRange(); err != nil {
		return fmt.Errorf("project_root_range: %w", err)
	}
	if _, err := p.kubeletDefaultRange(); err != nil {
		return fmt.Errorf("kubelet_default_range: %w", err)
	}
	if p.Timeout.Duration < 0 || p.Timeout.Duration > MaxTimeout {
		return fmt.Errorf("timeout = %q: want a duration between 0s and %s (below the hooks.d timeout)", p.Timeout, MaxTimeout)
	}
	if !strings.HasPrefix(p.RegistryDir, "/") {
		return fmt.Errorf("registry_dir = %q: want an absolute path", p.RegistryDir)
	}
	switch {
	case p.AuditLog == "syslog", p.AuditLog == "none", strings.HasPrefix(p.AuditLog, "/"):
	default:
		return fmt.Errorf("audit_log = %q: want \"syslog\", \"none\" or an absolute path", p.AuditLog)
	}
	return nil
}

// None is the value that turns off project_root_range, kubelet_subid_owner
// and kubelet_default_range.
const None = "none"

func (p Policy) projectRootRange() (*idmap.Range, error) {
	if p.ProjectRootRange == None {
		return nil, nil
	}
	r, err := idmap.ParseRange(p.ProjectRootRange)
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// KubeletRangeEnabled reports whether native user namespaces get the
// kubelet's range at all (kubelet_subid_owner is not "none").
func (p Policy) KubeletRangeEnabled() bool { return p.KubeletSubIDOwner != None }

func (p Policy) kubeletDefaultRange() (*idmap.Range, error) {
	if p.KubeletDefaultRange == None {
		return nil, nil
	}
	r, err := idmap.ParseRange(p.KubeletDefaultRange)
	if err != nil {
		return nil, err
	}
	return &r, nil
}

func parseRanges(ss []string) ([]idmap.Range, error) {
	rs := make([]idmap.Range, 0, len(ss))
	for _, s := range ss {
		r, err := idmap.ParseRange(s)
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	return idmap.MergeRanges(rs), nil
}
