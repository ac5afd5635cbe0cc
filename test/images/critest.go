package images

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/crio-userns/crio-userns/test/images/ocilayout"
)

// Stand-ins for the images SIG Node's CRI validation suite (critest,
// cri-tools v1.36.0) pulls, built here from busybox-static: a loopback
// registry serves them under the names critest asks for, minus the registry
// (the node's registries.conf sends those registries' names there). Each stand-in has what the
// specs look at (commands, USER, accounts, a web server on the port they
// probe); images pinned by a digest of the original cannot be stood in for.
const critestRegistryOrg = "k8s-staging-cri-tools/"

// critestAccounts adds the accounts the user and group specs expect.
const (
	critestPasswd = PasswdFile + "www-data:x:33:33:www-data:/var/www:/sbin/nologin\nuser1:x:1000:1000::/home/user1:/bin/sh\n"
	critestGroup  = GroupFile + "www-data:x:33:\nuser1:x:1000:\ngroup1:x:50000:user1\n"
)

// critestImage is one stand-in: its layout name and the references it is
// served under.
type critestImage struct {
	name string
	refs []string
	cfg  ocilayout.Config
	// extra entries beyond busybox and the accounts
	extra []ocilayout.Entry
}

func critestImages() []critestImage {
	sh := ocilayout.Config{Cmd: []string{"/bin/sh"}, Env: []string{"PATH=/usr/local/bin:/usr/bin:/bin"}}
	web := func(port string) ocilayout.Config {
		return ocilayout.Config{Entrypoint: []string{"/bin/busybox", "httpd", "-f", "-p", port, "-h", "/www"}, Env: sh.Env}
	}
	withUser := func(u string) ocilayout.Config { c := sh; c.User = u; return c }
	label := func(v string) []ocilayout.Entry {
		return []ocilayout.Entry{ocilayout.File("/etc/critest-image", 0o644, []byte(v+"\n"))}
	}
	www := []ocilayout.Entry{ocilayout.File("/www/index.html", 0o644, []byte("crio-userns critest stand-in\n"))}
	o := critestRegistryOrg
	return []critestImage{
		{name: "busybox", refs: []string{"e2e-test-images/busybox:1.29-2"}, cfg: sh},
		{name: "nginx", refs: []string{"e2e-test-images/nginx:1.14-2"}, cfg: web("80"), extra: www},
		{name: "hostnet-nginx", refs: []string{o + "hostnet-nginx-amd64:latest"}, cfg: web("12003"), extra: www},
		{name: "pause", refs: []string{"pause:3.9"}, cfg: ocilayout.Config{Entrypoint: []string{"/bin/sleep", "infinity"}}},
		{name: "user-uid", refs: []string{o + "test-image-user-uid:latest"}, cfg: withUser("1002")},
		{name: "user-username", refs: []string{o + "test-image-user-username:latest"}, cfg: withUser("www-data")},
		{name: "user-uid-group", refs: []string{o + "test-image-user-uid-group:latest"}, cfg: withUser("1003:1003")},
		{name: "user-username-group", refs: []string{o + "test-image-user-username-group:latest"}, cfg: withUser("www-data:www-data")},
		{name: "predefined-group", refs: []string{o + "test-image-predefined-group:latest"}, cfg: withUser("1000")},
		{name: "test-image", refs: []string{o + "test-image-latest:latest", o + "test-image-tag:test", o + "test-image-tag:all"}, cfg: sh},
		{name: "test-image-1", refs: []string{o + "test-image-1:latest"}, cfg: sh, extra: label("1")},
		{name: "test-image-2", refs: []string{o + "test-image-2:latest"}, cfg: sh, extra: label("2")},
		{name: "test-image-3", refs: []string{o + "test-image-3:latest"}, cfg: sh, extra: label("3")},
		{name: "test-image-tags", refs: []string{o + "test-image-tags:1", o + "test-image-tags:2", o + "test-image-tags:3"}, cfg: sh, extra: label("tags")},
	}
}

// CritestSource is where the registry finds one reference's image.
type CritestSource struct {
	Layout string `json:"layout"`
	Tag    string `json:"tag"`
}

// BuildCritest writes the stand-ins' layouts under workDir/critest and the
// registry's index (repository:tag → layout) to workDir/critest/images.json,
// whose path it returns. Unchanged layouts are kept.
func BuildCritest(ctx context.Context, workDir string) (string, error) {
	workDir, err := filepath.Abs(workDir)
	if err != nil {
		return "", err
	}
	busybox := DefaultBusybox
	if err := checkStatic(busybox); err != nil {
		return "", fmt.Errorf("busybox for the critest stand-ins: %w (install busybox-static)", err)
	}
	dir := filepath.Join(workDir, "critest")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return "", err
	}
	defer unlock()
	index := map[string]CritestSource{}
	for _, ci := range critestImages() {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		entries := []ocilayout.Entry{
			ocilayout.File("/etc/passwd", 0o644, []byte(critestPasswd)),
			ocilayout.File("/etc/group", 0o644, []byte(critestGroup)),
			ocilayout.Dir("/tmp", 0o1777),
			ocilayout.Dir("/proc", 0o555),
			ocilayout.Dir("/sys", 0o555),
			ocilayout.Dir("/dev", 0o755),
			ocilayout.Dir("/etc/critest", 0o755),
			ocilayout.HostFile("/bin/busybox", 0o755, busybox),
			ocilayout.Symlink("/usr/bin/env", "/bin/busybox"),
		}
		for _, a := range append(BusyboxApplets, "httpd", "hostname", "nslookup", "wget", "ip", "ping") {
			entries = append(entries, ocilayout.Symlink("/bin/"+a, "busybox"))
		}
		entries = dedupe(append(entries, ci.extra...))
		cfg := ci.cfg
		cfg.Labels = label("critest stand-in " + ci.name)
		spec := imageSpec{Name: ci.name, Ref: ci.refs[0], Image: ocilayout.Image{Tag: layoutTag, Entries: entries, Config: cfg}}
		img, err := writeImage(dir, spec)
		if err != nil {
			return "", err
		}
		for _, r := range ci.refs {
			index[r] = CritestSource{Layout: img.Layout, Tag: img.Tag}
		}
	}
	data, err := json.MarshalIndent(index, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "images.json")
	return path, os.WriteFile(path, data, 0o644)
}

// dedupe keeps the first entry of each path (applet lists overlap).
func dedupe(entries []ocilayout.Entry) []ocilayout.Entry {
	seen := map[string]bool{}
	out := entries[:0]
	for _, e := range entries {
		if !seen[e.Path] {
			seen[e.Path] = true
			out = append(out, e)
		}
	}
	return out
}
