package vm

// Where the guest mounts the boot share (the agent binary and boot.json) and
// the tag QEMU exports it under.
const (
	BootMount = "/run/crio-userns/boot"
	BootTag   = "crio-userns-boot"
	AgentName = "crio-userns-guest-agent"
)

// The guest's network: user networking on a link-local subnet (never routed
// anywhere; restrict=on keeps the guest from reaching out in any case) with a
// static address the host's forwards point at.
const (
	GuestNet  = "169.254.77.0/24"
	GuestHost = "169.254.77.2"
	GuestAddr = "169.254.77.15"
	// Ports in the guest: CRI (relayed to crio's Unix socket) and the agent.
	GuestCRIPort   = 10010
	GuestAgentPort = 10011
)

// guestFiles are the files the image carries beyond its packages. Boot time
// matters under TCG: everything a node does not need is masked.
func guestFiles() map[string]string {
	files := map[string]string{
		"/etc/hostname": "crio-userns-guest\n",
		// No fsck: the root is a fresh copy of the cached image every boot.
		"/etc/fstab": "/dev/vda / ext4 rw,errors=remount-ro 0 0\n",
		// Logs in memory: the root is thrown away with the run anyway.
		"/etc/systemd/journald.conf.d/crio-userns.conf": "[Journal]\nStorage=volatile\n",
		// The agent starts as early as systemd can start it, loading the
		// drivers it needs itself instead of waiting for udev's coldplug:
		// the host waits for it, and under TCG every second of boot counts.
		"/etc/systemd/system/" + AgentName + ".service": `[Unit]
Description=crio-userns guest agent (the host's channel into this node)
DefaultDependencies=no
After=systemd-remount-fs.service
Conflicts=shutdown.target
Before=shutdown.target

[Service]
ExecStartPre=/usr/sbin/modprobe -a virtio_net 9pnet_virtio 9p
ExecStartPre=/usr/bin/mkdir -p ` + BootMount + `
ExecStartPre=/usr/bin/mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,ro ` + BootTag + " " + BootMount + `
ExecStart=` + BootMount + "/" + AgentName + `
Restart=no
OOMScoreAdjust=-999
# A crash of the agent cuts both of the host's sockets; its last words (a Go
# panic goes to stderr) reach the serial console, which the host shows.
StandardError=journal+console

[Install]
WantedBy=sysinit.target
`,
		"/etc/systemd/system/sysinit.target.wants/" + AgentName + ".service": "->/etc/systemd/system/" + AgentName + ".service",
		"/etc/systemd/system/default.target":                                 "->/lib/systemd/system/multi-user.target",
	}
	// The serial getty hangs up the console (and loses what is written to
	// it); the rest are timers and services a throwaway node does not need.
	for _, unit := range []string{
		"serial-getty@ttyS0.service", "getty@tty1.service", "getty-static.service",
		"apt-daily.timer", "apt-daily-upgrade.timer", "dpkg-db-backup.timer", "e2scrub_all.timer",
		"e2scrub_reap.service", "fstrim.timer", "systemd-timesyncd.service", "man-db.timer",
	} {
		files["/etc/systemd/system/"+unit] = "->/dev/null"
	}
	return files
}
