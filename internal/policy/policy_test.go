package policy

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crio-userns/crio-userns/internal/idmap"
	"github.com/crio-userns/crio-userns/internal/safefile"
	"github.com/crio-userns/crio-userns/internal/testenv"
)

func TestDefaults(t *testing.T) {
	p := Policy{}.Defaults()
	want := Policy{
		Mode: Enforce, ImageAccounts: AccountsWarn, SubIDOwner: "containers",
		SubUIDFile: "/etc/subuid", SubGIDFile: "/etc/subgid",
		ProjectRootRange: "1000000000-1999999999", RegistryDir: "/run/crio-userns",
		KubeletSubIDOwner: "kubelet", KubeletDefaultRange: "65536-4294967295",
		Timeout: Duration{2 * time.Second}, AuditLog: "syslog",
	}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("Defaults() = %+v, want %+v", p, want)
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
}

// The shipped example must say exactly the defaults, as it claims to.
func TestContribPolicyIsTheDefaults(t *testing.T) {
	p, err := Load("../../contrib/crio-userns/policy.toml")
	if err != nil {
		t.Fatal(err)
	}
	p.AllowedUIDs, p.AllowedGIDs = nil, nil // [] in the file, nil by default
	if !reflect.DeepEqual(p, Policy{}.Defaults()) {
		t.Fatalf("contrib policy = %+v, want the defaults %+v", p, Policy{}.Defaults())
	}
	// and it must say every key, not leave some to the defaults.
	data, err := os.ReadFile("../../contrib/crio-userns/policy.toml")
	if err != nil {
		t.Fatal(err)
	}
	pt := reflect.TypeFor[Policy]()
	for i := range pt.NumField() {
		key := pt.Field(i).Tag.Get("toml")
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(key) + ` = `).Match(data) {
			t.Errorf("contrib policy does not set %s", key)
		}
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		check   func(t *testing.T, p Policy)
		wantErr string
	}{
		{name: "empty", in: "", check: func(t *testing.T, p Policy) {
			if p.Mode != Enforce {
				t.Fatal(p.Mode)
			}
		}},
		{name: "audit", in: `mode = "audit"` + "\nimage_accounts = \"enforce\"\nallow_host_root = true\n", check: func(t *testing.T, p Policy) {
			if p.Mode != Audit || p.ImageAccounts != AccountsEnforce || !p.AllowHostRoot {
				t.Fatalf("%+v", p)
			}
		}},
		{name: "ranges", in: `allowed_uids = ["200000-299999", "5"]`, check: func(t *testing.T, p Policy) {
			r, err := p.Resolve()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(r.UIDs, []idmap.Range{{First: 5, Last: 5}, {First: 200000, Last: 299999}}) || r.UIDSource != "allowed_uids" {
				t.Fatalf("%+v", r)
			}
		}},
		{name: "timeout", in: `timeout = "500ms"`, check: func(t *testing.T, p Policy) {
			if p.Timeout.Duration != 500*time.Millisecond {
				t.Fatal(p.Timeout)
			}
		}},
		{name: "root range off", in: `project_root_range = "none"`, check: func(t *testing.T, p Policy) {
			r, err := p.Resolve()
			if err != nil || r.RootRange != nil {
				t.Fatalf("%+v %v", r, err)
			}
		}},
		{name: "kubelet range off", in: `kubelet_subid_owner = "none"`, check: func(t *testing.T, p Policy) {
			r, err := p.Resolve()
			if err != nil || r.Kubelet != nil || p.KubeletRangeEnabled() {
				t.Fatalf("%+v %v", r, err)
			}
		}},
		{name: "kubelet default range", in: `kubelet_default_range = "1048576-8257535"` + "\nsubuid_file = \"/nonexistent/subuid\"\nsubgid_file = \"/nonexistent/subgid\"\n", check: func(t *testing.T, p Policy) {
			r, err := p.Resolve()
			if err != nil {
				t.Fatal(err)
			}
			want := &KubeletRanges{
				UIDs: []idmap.Range{{First: 1048576, Last: 8257535}}, UIDSource: `kubelet_default_range (no "kubelet" entry in /nonexistent/subuid)`,
				GIDs: []idmap.Range{{First: 1048576, Last: 8257535}}, GIDSource: `kubelet_default_range (no "kubelet" entry in /nonexistent/subgid)`,
			}
			if !reflect.DeepEqual(r.Kubelet, want) {
				t.Fatalf("Kubelet = %+v, want %+v", r.Kubelet, want)
			}
		}},
		{name: "bad kubelet default range", in: `kubelet_default_range = "all"`, wantErr: `kubelet_default_range: range "all"`},
		{name: "bad mode", in: `mode = "permissive"`, wantErr: `mode = "permissive": want "enforce" or "audit"`},
		{name: "bad accounts", in: `image_accounts = "yes"`, wantErr: `image_accounts = "yes": want "warn", "enforce" or "off"`},
		{name: "unknown key", in: `mdoe = "audit"`, wantErr: "unknown key(s): mdoe"},
		{name: "unknown table key", in: "[extra]\nx = 1\n", wantErr: "unknown key(s): extra"},
		{name: "wrong type", in: `allow_host_root = "yes"`, wantErr: "allow_host_root"},
		{name: "bad toml", in: `mode = `, wantErr: "expected value"},
		{name: "bad range", in: `allowed_gids = ["9-5"]`, wantErr: `allowed_gids: range "9-5": last ID 5 is below first ID 9`},
		{name: "bad root range", in: `project_root_range = "x"`, wantErr: `project_root_range: range "x"`},
		{name: "bad duration", in: `timeout = "soon"`, wantErr: `invalid duration "soon"`},
		{name: "timeout above hooks.d", in: `timeout = "10s"`, wantErr: `timeout = "10s": want a duration between 0s and 4s`},
		{name: "relative registry", in: `registry_dir = "run"`, wantErr: `registry_dir = "run": want an absolute path`},
		{name: "bad audit log", in: `audit_log = "journal"`, wantErr: `audit_log = "journal"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, p)
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "missing.toml")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("explicit missing policy: %v", err)
	}
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(filepath.Join(dir, "d")); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("directory policy: %v", err)
	}
	big := filepath.Join(dir, "big.toml")
	if err := os.WriteFile(big, []byte("# "+strings.Repeat("x", maxFileSize)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "larger than 1048576 bytes") {
		t.Fatalf("big policy: %v", err)
	}
	ok := filepath.Join(dir, "ok.toml")
	if err := os.WriteFile(ok, []byte(`mode = "audit"`), 0o600); err != nil {
		t.Fatal(err)
	}
	if p, err := Load(ok); err != nil || p.Mode != Audit {
		t.Fatalf("Load = %+v, %v", p, err)
	}
}

func TestResolveSubID(t *testing.T) {
	dir := t.TempDir()
	subuid := filepath.Join(dir, "subuid")
	subgid := filepath.Join(dir, "subgid")
	os.WriteFile(subuid, []byte("core:100000:65536\ncontainers:200000:268435456\n"), 0o644)
	os.WriteFile(subgid, []byte("containers:300000:10\n"), 0o644)
	p := Policy{SubUIDFile: subuid, SubGIDFile: subgid}.Defaults()
	r, err := p.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.UIDs, []idmap.Range{{First: 200000, Last: 268635455}}) || !reflect.DeepEqual(r.GIDs, []idmap.Range{{First: 300000, Last: 300009}}) {
		t.Fatalf("%+v", r)
	}
	if r.RootRange == nil || *r.RootRange != (idmap.Range{First: 1000000000, Last: 1999999999}) {
		t.Fatalf("root range %v", r.RootRange)
	}
	if want := subuid + ` entries of "containers"`; r.UIDSource != want {
		t.Fatalf("UIDSource = %q, want %q", r.UIDSource, want)
	}

	// No "kubelet" entry: the kubelet's built-in default.
	wantKubelet := &KubeletRanges{
		UIDs: []idmap.Range{{First: 65536, Last: 4294967295}}, UIDSource: `kubelet_default_range (no "kubelet" entry in ` + subuid + `)`,
		GIDs: []idmap.Range{{First: 65536, Last: 4294967295}}, GIDSource: `kubelet_default_range (no "kubelet" entry in ` + subgid + `)`,
	}
	if !reflect.DeepEqual(r.Kubelet, wantKubelet) {
		t.Fatalf("Kubelet = %+v, want %+v", r.Kubelet, wantKubelet)
	}

	missing := Policy{SubUIDFile: filepath.Join(dir, "nope"), SubGIDFile: subgid}.Defaults()
	r, err = missing.Resolve()
	if err != nil || r.UIDs != nil || !strings.HasSuffix(r.UIDSource, "(file missing)") {
		t.Fatalf("missing subuid: %+v %v", r, err)
	}

	if r.Kubelet == nil || r.Kubelet.UIDSource != `kubelet_default_range (no "kubelet" entry in `+filepath.Join(dir, "nope")+`)` {
		t.Fatalf("missing subuid, kubelet: %+v", r.Kubelet)
	}

	// A "kubelet" entry is the kubelet's range (getsubids kubelet), also
	// when allowed_uids/allowed_gids make the "containers" entries moot.
	os.WriteFile(subuid, []byte("containers:200000:268435456\nkubelet:2147483648:7208960\n"), 0o644)
	os.WriteFile(subgid, []byte("kubelet:2147483648:7208960\n"), 0o644)
	explicit := Policy{SubUIDFile: subuid, SubGIDFile: subgid, AllowedUIDs: []string{"5"}, AllowedGIDs: []string{"6"}}.Defaults()
	if r, err = explicit.Resolve(); err != nil {
		t.Fatal(err)
	}
	wantKubelet = &KubeletRanges{
		UIDs: []idmap.Range{{First: 2147483648, Last: 2154692607}}, UIDSource: subuid + ` entries of "kubelet"`,
		GIDs: []idmap.Range{{First: 2147483648, Last: 2154692607}}, GIDSource: subgid + ` entries of "kubelet"`,
	}
	if !reflect.DeepEqual(r.Kubelet, wantKubelet) || r.UIDSource != "allowed_uids" {
		t.Fatalf("Resolve = %+v, kubelet %+v, want %+v", r, r.Kubelet, wantKubelet)
	}
	// kubelet_default_range = "none": no entry, no range.
	noDefault := Policy{SubUIDFile: filepath.Join(dir, "nope"), SubGIDFile: subgid, KubeletDefaultRange: "none"}.Defaults()
	if r, err = noDefault.Resolve(); err != nil || r.Kubelet == nil || r.Kubelet.UIDs != nil || len(r.Kubelet.GIDs) != 1 {
		t.Fatalf("kubelet_default_range none: %+v %v", r.Kubelet, err)
	}
	// kubelet_subid_owner = "none" with explicit ranges reads no subid file.
	off := Policy{SubUIDFile: filepath.Join(dir, "d"), SubGIDFile: filepath.Join(dir, "d"), AllowedUIDs: []string{"5"}, AllowedGIDs: []string{"6"}, KubeletSubIDOwner: "none"}.Defaults()
	os.Mkdir(filepath.Join(dir, "d"), 0o700)
	if r, err = off.Resolve(); err != nil || r.Kubelet != nil {
		t.Fatalf("kubelet range off: %+v %v", r, err)
	}

	os.WriteFile(subgid, []byte("containers:1\n"), 0o644)
	if _, err := p.Resolve(); err == nil || !strings.Contains(err.Error(), subgid+": line 1") {
		t.Fatalf("malformed subgid: %v", err)
	}
}

// A policy or subid file anyone but root could have written is refused,
// and so is anything that is not a regular file, without blocking.
func TestLoadRefusesUntrustedFiles(t *testing.T) {
	testenv.RequireRoot(t)
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	write := func(n string, mode os.FileMode) {
		if err := os.WriteFile(p(n), []byte(`mode = "audit"`), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p(n), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("world.toml", 0o666)
	write("group.toml", 0o620)
	write("nobody.toml", 0o644)
	if err := os.Chown(p("nobody.toml"), 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(p("fifo.toml"), 0o600); err != nil {
		t.Fatal(err)
	}
	sparse, err := os.Create(p("huge.toml"))
	if err != nil {
		t.Fatal(err)
	}
	sparse.Truncate(8 << 30)
	sparse.Close()
	for name, want := range map[string]string{
		p("world.toml"):  "policy " + p("world.toml") + ": not trusted: writable by group or others (mode 0666)",
		p("group.toml"):  "policy " + p("group.toml") + ": not trusted: writable by group or others (mode 0620)",
		p("nobody.toml"): "policy " + p("nobody.toml") + ": not trusted: owned by UID 65534, not root",
		p("fifo.toml"):   "policy " + p("fifo.toml") + ": not a regular file (a FIFO)",
		p("huge.toml"):   "policy " + p("huge.toml") + ": larger than 1048576 bytes",
		"/dev/zero":      "policy /dev/zero: not a regular file (a character device)",
	} {
		_, err := Load(name)
		if err == nil || err.Error() != want {
			t.Errorf("Load(%s) = %v, want %q", name, err, want)
		}
		var ue *safefile.UntrustedError
		if strings.Contains(want, "not trusted") && !errors.As(err, &ue) {
			t.Errorf("Load(%s): %v is not an UntrustedError", name, err)
		}
	}
	// The same for a subid file the policy reads.
	write("subuid", 0o646)
	pol := Policy{SubUIDFile: p("subuid"), SubGIDFile: p("nope")}.Defaults()
	if _, err := pol.Resolve(); err == nil || err.Error() != p("subuid")+": not trusted: writable by group or others (mode 0646)" {
		t.Errorf("world-writable subuid: %v", err)
	}
}

// Owners written as numeric UIDs match (containers/storage's idtools does
// the same), and a bad line of another owner is skipped and said, not an
// error for every container.
func TestResolveSubIDOwnersAndStrayLines(t *testing.T) {
	dir := t.TempDir()
	saved := passwdFile
	passwdFile = filepath.Join(dir, "passwd")
	defer func() { passwdFile = saved }()
	os.WriteFile(passwdFile, []byte("root:x:0:0:::\ncontainers:x:993:993:::\n"), 0o644)
	subuid := filepath.Join(dir, "subuid")
	subgid := filepath.Join(dir, "subgid")
	os.WriteFile(subuid, []byte("993:200000:65536\ngarbage line\ncontainers:300000:65536\nalice:1\n"), 0o644)
	os.WriteFile(subgid, []byte("containers:200000:65536\n"), 0o644)
	p := Policy{SubUIDFile: subuid, SubGIDFile: subgid}.Defaults()
	r, err := p.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if want := []idmap.Range{{First: 200000, Last: 265535}, {First: 300000, Last: 365535}}; !reflect.DeepEqual(r.UIDs, want) {
		t.Errorf("UIDs = %v, want %v", r.UIDs, want)
	}
	wantNotes := []string{
		subuid + ` line 2: "garbage line": want 3 colon-separated fields (owner:start:count), got 1: skipped (not a line of "containers" or "kubelet")`,
		subuid + ` line 4: "alice:1": want 3 colon-separated fields (owner:start:count), got 2: skipped (not a line of "containers" or "kubelet")`,
	}
	if !reflect.DeepEqual(r.Notes, wantNotes) {
		t.Errorf("Notes:\n got %q\nwant %q", r.Notes, wantNotes)
	}
	// The owner's own bad line, by name or by UID, is an error.
	for _, bad := range []string{"containers:x:1\n", "993:1\n"} {
		os.WriteFile(subuid, []byte("containers:300000:65536\n"+bad), 0o644)
		if _, err := p.Resolve(); err == nil || !strings.Contains(err.Error(), subuid+": line 2: ") || !strings.Contains(err.Error(), `(a line of "containers")`) {
			t.Errorf("bad line %q of the owner: %v", bad, err)
		}
	}
	// No passwd entry: only the name matches.
	os.WriteFile(passwdFile, []byte("root:x:0:0:::\n"), 0o644)
	os.WriteFile(subuid, []byte("993:200000:65536\ncontainers:300000:65536\n"), 0o644)
	if r, err = p.Resolve(); err != nil || !reflect.DeepEqual(r.UIDs, []idmap.Range{{First: 300000, Last: 365535}}) {
		t.Errorf("without a passwd entry: %v %v", r.UIDs, err)
	}
	// An unreadable passwd with numeric owners fails closed.
	os.WriteFile(passwdFile, []byte("containers:x:zz:0:::\n"), 0o644)
	if _, err := p.Resolve(); err == nil || !strings.Contains(err.Error(), `has owners written as UIDs, but "containers"'s UID is unknown`) {
		t.Errorf("bad passwd: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	data, err := os.ReadFile("../../contrib/crio-userns/policy.toml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(data))
	for _, s := range []string{"", `mode = "audit"`, `allowed_uids = ["1-2"]`, `timeout = "1s"`, "[x]", `project_root_range = "none"`,
		`kubelet_subid_owner = "none"`, `kubelet_default_range = "65536-131071"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse([]byte(s))
		if err != nil {
			return
		}
		// Whatever parses must be complete and valid.
		if err := p.Validate(); err != nil {
			t.Fatalf("Parse accepted a policy Validate refuses: %v", err)
		}
		if p.Mode == "" || p.ImageAccounts == "" || p.RegistryDir == "" || p.Timeout.Duration == 0 ||
			p.KubeletSubIDOwner == "" || p.KubeletDefaultRange == "" {
			t.Fatalf("defaults missing: %+v", p)
		}
	})
}
