package images

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/crio-userns/crio-userns/internal/testenv"
	"github.com/crio-userns/crio-userns/test/images/ocilayout"
)

func entryMap(img ocilayout.Image) map[string]ocilayout.Entry {
	m := map[string]ocilayout.Entry{}
	for _, e := range img.Entries {
		m[e.Path] = e
	}
	return m
}

func TestImageSpecs(t *testing.T) {
	specs := imageSpecs("/build/usernstest", "/host/busybox")
	var refs []string
	for _, s := range specs {
		refs = append(refs, s.Ref)
	}
	if !reflect.DeepEqual(refs, Refs) {
		t.Fatalf("spec refs %v, want Refs %v", refs, Refs)
	}
	tests := []struct {
		name       string
		entrypoint []string
		cmd        []string
		env        []string
		files      map[string]string // path -> host source ("" for inline content)
	}{
		{
			name:       "usernstest",
			entrypoint: []string{"/usr/bin/usernstest"},
			env:        []string{"PATH=/usr/bin:/bin"},
			files:      map[string]string{"/usr/bin/usernstest": "/build/usernstest", "/etc/passwd": "", "/etc/group": ""},
		},
		{
			name:  "fedora-standin",
			cmd:   []string{"/bin/sh"},
			env:   []string{"PATH=/usr/local/bin:/usr/bin:/bin"},
			files: map[string]string{"/bin/busybox": "/host/busybox", "/etc/passwd": "", "/etc/group": ""},
		},
		{
			name:       "pause",
			entrypoint: []string{"/pause"},
			files:      map[string]string{"/pause": "/build/usernstest", "/etc/passwd": "", "/etc/group": ""},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := specs[i]
			if s.Name != tt.name || s.Image.Tag != "latest" {
				t.Fatalf("spec %d is %s:%s, want %s:latest", i, s.Name, s.Image.Tag, tt.name)
			}
			c := s.Image.Config
			if !reflect.DeepEqual(c.Entrypoint, tt.entrypoint) || !reflect.DeepEqual(c.Cmd, tt.cmd) || !reflect.DeepEqual(c.Env, tt.env) {
				t.Errorf("config entrypoint %q cmd %q env %q, want %q %q %q", c.Entrypoint, c.Cmd, c.Env, tt.entrypoint, tt.cmd, tt.env)
			}
			if c.User != "" {
				t.Errorf("user %q: the pod's runAsUser must decide, so the image sets none", c.User)
			}
			entries := entryMap(s.Image)
			for path, src := range tt.files {
				e, ok := entries[path]
				if !ok || e.Type != ocilayout.TypeFile || e.Source != src {
					t.Errorf("%s: entry %+v, want a file from %q", path, e, src)
				}
			}
			if string(entries["/etc/passwd"].Content) != PasswdFile || string(entries["/etc/group"].Content) != GroupFile {
				t.Errorf("accounts are not PasswdFile/GroupFile")
			}
			if tmp := entries["/tmp"]; tmp.Type != ocilayout.TypeDir || tmp.Mode != 0o1777 {
				t.Errorf("/tmp %+v, want a 1777 directory (the children are not root)", tmp)
			}
			if _, err := ocilayout.Fingerprint(s.Image); err != nil && !strings.Contains(err.Error(), "opening source") {
				t.Errorf("invalid description: %v", err)
			}
		})
	}

	// The stand-in's /bin has every applet the field reports' manifests run.
	standin := entryMap(specs[1].Image)
	for _, a := range []string{"sh", "sleep", "cat", "id", "ls", "ps", "echo", "true", "false", "nc", "grep", "whoami"} {
		if e := standin["/bin/"+a]; e.Type != ocilayout.TypeSymlink || e.Target != "busybox" {
			t.Errorf("/bin/%s: %+v, want a symlink to busybox", a, e)
		}
	}
}

// TestBusyboxHasApplets checks BusyboxApplets against the busybox the images
// are built from, and that a missing applet is caught.
func TestBusyboxHasApplets(t *testing.T) {
	testenv.Require(t, checkStatic(DefaultBusybox) == nil, DefaultBusybox+" is missing or not static (apt-get install busybox-static)")
	ctx := context.Background()
	if err := checkApplets(ctx, DefaultBusybox, BusyboxApplets); err != nil {
		t.Error(err)
	}
	err := checkApplets(ctx, DefaultBusybox, []string{"sh", "bash"})
	if err == nil || !strings.Contains(err.Error(), `["bash"]`) {
		t.Errorf("missing applet bash: error %v", err)
	}
}

// TestAccountsAreFedoras pins the IDs the field reports' expectations are
// written in.
func TestAccountsAreFedoras(t *testing.T) {
	want := map[string]string{"root": "0:0", "daemon": "2:2", "mail": "8:12", "operator": "11:0", "nobody": "65534:65534"}
	got := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(PasswdFile), "\n") {
		f := strings.Split(l, ":")
		if len(f) != 7 {
			t.Fatalf("passwd line %q", l)
		}
		got[f[0]] = f[2] + ":" + f[3]
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("passwd %v, want %v", got, want)
	}
	wantGroups := map[string]string{"root": "0", "daemon": "2", "mail": "12", "nobody": "65534"}
	gotGroups := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(GroupFile), "\n") {
		f := strings.Split(l, ":")
		if len(f) != 4 {
			t.Fatalf("group line %q", l)
		}
		gotGroups[f[0]] = f[2]
	}
	if !reflect.DeepEqual(gotGroups, wantGroups) {
		t.Errorf("group %v, want %v", gotGroups, wantGroups)
	}
}
