package machineconfig

import (
	"fmt"
	"net/url"
	"strings"
)

// UnitName is the systemd unit that installs the RPMs on the node.
const UnitName = "crio-userns-override.service"

// checkRPMURL accepts the http(s) URLs rpm-ostree fetches, without the
// characters that would need escaping inside `sh -c '...'` in ExecStart
// (quotes, backslash, $, backquote, whitespace) and without credentials,
// which every reader of MachineConfigs could see.
func checkRPMURL(flag, raw string) error {
	for _, c := range raw {
		if c <= ' ' || c == 0x7f || strings.ContainsRune(`'"\$`+"`", c) {
			return fmt.Errorf("--%s %q: contains %q, which the unit's shell command cannot carry; percent-encode it", flag, raw, c)
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("--%s: %w", flag, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("--%s %q: want an http:// or https:// URL that the nodes can fetch", flag, raw)
	case u.Host == "":
		return fmt.Errorf("--%s %q: no host", flag, raw)
	case u.User != nil:
		return fmt.Errorf("--%s %q: credentials in the URL would be readable by anyone who can read MachineConfigs", flag, raw)
	}
	return nil
}

// shellWord returns s as one word of a POSIX shell command inside a
// single-quoted `sh -c` argument: as is when it has no shell
// metacharacters, else in double quotes (checkRPMURL has refused the
// characters double quotes do not protect).
func shellWord(s string) string {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.,:/+=@%^", c)) {
			return `"` + s + `"`
		}
	}
	return s
}

// installCommand is the shell command of ExecStart: it does nothing when the
// wanted builds are installed (rpm -q), else stages them and reboots. With
// only the CRI-O override it is field report 000's command. The hook package
// is layered (rpm-ostree install) rather than replaced, since no base
// package carries it.
func installCommand(crio, hook *rpmRef) string {
	switch {
	case hook == nil:
		return fmt.Sprintf("rpm -q %s || rpm-ostree override replace --reboot %s", shellWord(crio.nevra.String()), shellWord(crio.url))
	case crio == nil:
		return fmt.Sprintf("rpm -q %s || rpm-ostree install --reboot %s", shellWord(hook.nevra.String()), shellWord(hook.url))
	}
	// Both: stage each missing change, then reboot once.
	c, h := shellWord(crio.nevra.String()), shellWord(hook.nevra.String())
	return fmt.Sprintf("rpm -q %s %s && exit 0; "+
		"rpm -q %s || rpm-ostree install --idempotent %s || exit 1; "+
		"rpm -q %s || rpm-ostree override replace %s || exit 1; "+
		"exec systemctl reboot",
		c, h, h, shellWord(hook.url), c, shellWord(crio.url))
}

// unitContents is the systemd unit: after the network and rpm-ostreed, only
// on rpm-ostree (RHCOS) nodes, retried every 30 s while the download or the
// transaction fails (field report 000's Restart=on-failure; the spacing keeps
// systemd's start limit from giving up after five quick failures).
func unitContents(crio, hook *rpmRef) string {
	var what []string
	if crio != nil {
		what = append(what, "replace CRI-O with "+crio.nevra.String())
	}
	if hook != nil {
		what = append(what, "layer "+hook.nevra.String())
	}
	cmd := installCommand(crio, hook)
	// systemd expands %-specifiers in ExecStart, also inside quotes.
	cmd = strings.ReplaceAll(cmd, "%", "%%")
	return "[Unit]\n" +
		"Description=crio-userns: " + strings.Join(what, ", ") + " (rpm-ostree)\n" +
		"Wants=network-online.target\n" +
		"After=network-online.target rpm-ostreed.service\n" +
		"ConditionPathExists=/run/ostree-booted\n" +
		"\n" +
		"[Service]\n" +
		"ExecStart=/bin/sh -c '" + cmd + "'\n" +
		"Restart=on-failure\n" +
		"RestartSec=30\n" +
		"\n" +
		"[Install]\n" +
		"WantedBy=multi-user.target\n"
}
