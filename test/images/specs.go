package images

import (
	"github.com/crio-userns/crio-userns/test/images/ocilayout"
)

// layoutTag is the ref.name of every layout; Load gives the image its real
// reference in the store.
const layoutTag = "latest"

// BusyboxApplets are the commands the Fedora stand-in has in /bin, as
// symlinks to /bin/busybox. The first twelve are what the field reports and
// the bench's scenarios run; the rest make `oc rsh`-style poking around work.
// Every name must be an applet of Debian's busybox-static (a test checks).
var BusyboxApplets = []string{
	"sh", "sleep", "cat", "id", "ls", "ps", "echo", "true", "false", "nc", "grep", "whoami",
	"[", "awk", "basename", "chmod", "chown", "cp", "cut", "date", "df", "dirname", "env",
	"expr", "find", "head", "hostname", "kill", "ln", "mkdir", "mount", "mv", "nproc", "printf",
	"pwd", "readlink", "realpath", "rm", "sed", "seq", "sort", "stat", "tail", "tee", "test",
	"timeout", "top", "touch", "tr", "uname", "uniq", "wc", "xargs",
}

// imageSpec is one image to build: the layout directory's name, the
// reference it gets in the store, and its content.
type imageSpec struct {
	Name  string
	Ref   string
	Image ocilayout.Image
}

// baseEntries are the files every image shares: Fedora's accounts and the
// directories a container expects. /tmp is world-writable and sticky because
// the experiment's children run as daemon, nobody and mail.
func baseEntries() []ocilayout.Entry {
	return []ocilayout.Entry{
		ocilayout.File("/etc/passwd", 0o644, []byte(PasswdFile)),
		ocilayout.File("/etc/group", 0o644, []byte(GroupFile)),
		ocilayout.Dir("/tmp", 0o1777),
		ocilayout.Dir("/proc", 0o555),
		ocilayout.Dir("/sys", 0o555),
		ocilayout.Dir("/dev", 0o755),
	}
}

func label(name string) map[string]string {
	return map[string]string{"org.opencontainers.image.title": "crio-userns " + name}
}

// imageSpecs describes the three images, given the host paths of the static
// usernstest binary and of busybox-static. It is pure, so the images' content
// is unit-testable without building anything.
func imageSpecs(usernstest, busybox string) []imageSpec {
	standin := append(baseEntries(),
		ocilayout.HostFile("/bin/busybox", 0o755, busybox),
		// Scripts with "#!/usr/bin/env sh" work as on Fedora.
		ocilayout.Symlink("/usr/bin/env", "/bin/busybox"),
		ocilayout.Dir("/usr/local/bin", 0o755),
		ocilayout.Dir("/root", 0o700),
		ocilayout.Dir("/var/tmp", 0o1777),
	)
	for _, a := range BusyboxApplets {
		standin = append(standin, ocilayout.Symlink("/bin/"+a, "busybox"))
	}
	return []imageSpec{
		{
			Name: "usernstest",
			Ref:  RefUsernstest,
			Image: ocilayout.Image{
				Tag:     layoutTag,
				Entries: append(baseEntries(), ocilayout.HostFile(UsernstestPath, 0o755, usernstest)),
				Config: ocilayout.Config{
					Entrypoint: []string{UsernstestPath},
					Env:        []string{"PATH=/usr/bin:/bin"},
					Labels:     label("usernstest"),
				},
			},
		},
		{
			Name: "fedora-standin",
			Ref:  RefFedoraStandin,
			Image: ocilayout.Image{
				Tag:     layoutTag,
				Entries: standin,
				Config: ocilayout.Config{
					// No entrypoint, like Fedora's image: a manifest's
					// command (`sleep 3600`) is the whole command line.
					Cmd:    []string{"/bin/sh"},
					Env:    []string{"PATH=/usr/local/bin:/usr/bin:/bin"},
					Labels: label("fedora-standin"),
				},
			},
		},
		{
			Name: "pause",
			Ref:  RefPause,
			Image: ocilayout.Image{
				Tag:     layoutTag,
				Entries: append(baseEntries(), ocilayout.HostFile(PauseCommand, 0o755, usernstest)),
				Config: ocilayout.Config{
					Entrypoint: []string{PauseCommand},
					Labels:     label("pause"),
				},
			},
		},
	}
}
