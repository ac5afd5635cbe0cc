package checks

import (
	"fmt"
	"slices"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crio-userns/crio-userns/internal/accounts"
	"github.com/crio-userns/crio-userns/internal/idmap"
	"github.com/crio-userns/crio-userns/internal/policy"
)

// maxListed bounds how many accounts a message names.
const maxListed = 8

// Image is what check 6 needs from the rootfs: its accounts, or why they
// could not be read (a missing file is not an error: scratch images have
// none).
type Image struct {
	Users     []accounts.User
	Groups    []accounts.Group
	PasswdErr error
	GroupErr  error
	// RootErr says the root filesystem itself could not be opened: not an
	// image without accounts, but one the hook cannot judge.
	RootErr error
}

// CheckImageAccounts is check 6: every UID and GID the image's /etc/passwd
// and /etc/group declare is mapped, so that the workload can switch to its
// own accounts (field report 004: Fedora's nobody, 65534, needs a map of at
// least 65535 IDs). sev is the policy's image_accounts as a severity.
func CheckImageAccounts(img Image, uids, gids []rspec.LinuxIDMapping, sev Severity) []Finding {
	if img.RootErr != nil {
		return []Finding{{
			Check: ImageAccounts, Severity: sev,
			Reason: fmt.Sprintf("cannot read the image's accounts: %v", img.RootErr),
			Fix:    `the container's root filesystem must exist when the hook runs (createRuntime): check the OCI runtime, or set image_accounts = "off" in the policy`,
		}}
	}
	var out []Finding
	for _, e := range []struct {
		file string
		err  error
	}{{"/etc/passwd", img.PasswdErr}, {"/etc/group", img.GroupErr}} {
		if e.err != nil {
			out = append(out, Finding{
				Check: ImageAccounts, Severity: sev,
				Reason: fmt.Sprintf("cannot read the image's %s: %v", e.file, e.err),
				Fix:    fmt.Sprintf(`fix the image's %s or set image_accounts = "off" in the policy`, e.file),
			})
		}
	}

	type miss struct {
		what string // "nobody (UID 65534)"
		id   uint32
	}
	var missU, missG []miss
	seen := map[string]bool{}
	add := func(list *[]miss, name, kind string, id uint32) {
		key := fmt.Sprintf("%s %s %d", name, kind, id)
		if !seen[key] {
			seen[key] = true
			*list = append(*list, miss{fmt.Sprintf("%s (%s %d)", name, kind, id), id})
		}
	}
	for _, u := range img.Users {
		if _, ok := idmap.ToHost(uids, u.UID); !ok {
			add(&missU, u.Name, "UID", u.UID)
		}
		if _, ok := idmap.ToHost(gids, u.GID); !ok {
			add(&missG, u.Name, "primary GID", u.GID)
		}
	}
	for _, g := range img.Groups {
		if _, ok := idmap.ToHost(gids, g.GID); !ok {
			add(&missG, g.Name, "GID", g.GID)
		}
	}
	if len(missU) == 0 && len(missG) == 0 {
		return out
	}
	list := func(ms []miss) string {
		names := make([]string, 0, maxListed+1)
		for i, m := range ms {
			if i == maxListed {
				names = append(names, fmt.Sprintf("and %d more", len(ms)-maxListed))
				break
			}
			names = append(names, m.what)
		}
		return strings.Join(names, ", ")
	}
	var parts []string
	var highest uint32
	if len(missU) > 0 {
		parts = append(parts, fmt.Sprintf("outside the uid_map (%s): %s", FormatMap(uids), list(missU)))
	}
	if len(missG) > 0 {
		parts = append(parts, fmt.Sprintf("outside the gid_map (%s): %s", FormatMap(gids), list(missG)))
	}
	for _, m := range slices.Concat(missU, missG) {
		highest = max(highest, m.id)
	}
	need := uint64(highest) + 1
	suggest := (need + 65535) / 65536 * 65536 // round up to whole 64 Ki blocks, as auto sizes usually are
	out = append(out, Finding{
		Check: ImageAccounts, Severity: sev,
		Reason: "image accounts " + strings.Join(parts, "; "),
		Fix: fmt.Sprintf(`map container IDs 0-%d (a size of at least %d, e.g. userns-mode "auto:size=%d"), or drop the accounts from the image`,
			highest, need, suggest),
	})
	return out
}

func runImageAccounts(in *Input) Result {
	sev := Warning
	switch in.Policy.ImageAccounts {
	case policy.AccountsOff:
		return Result{Skipped: `image_accounts = "off"`}
	case policy.AccountsEnforce:
		sev = Error
	}
	if len(in.UIDs) == 0 || len(in.GIDs) == 0 {
		return Result{Skipped: mapsUnknown}
	}
	return Result{Findings: CheckImageAccounts(in.Image(), in.UIDs, in.GIDs, sev)}
}
