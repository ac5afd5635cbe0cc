package idmap

import rspec "github.com/opencontainers/runtime-spec/specs-go"

// ToHost returns the host ID that id inside the namespace stands for.
func ToHost(maps []rspec.LinuxIDMapping, id uint32) (uint32, bool) {
	for _, m := range maps {
		if id >= m.ContainerID && uint64(id) < uint64(m.ContainerID)+uint64(m.Size) {
			return m.HostID + (id - m.ContainerID), true
		}
	}
	return 0, false
}

// ToContainer returns the ID inside the namespace that host ID hostID appears as.
func ToContainer(maps []rspec.LinuxIDMapping, hostID uint32) (uint32, bool) {
	for _, m := range maps {
		if hostID >= m.HostID && uint64(hostID) < uint64(m.HostID)+uint64(m.Size) {
			return m.ContainerID + (hostID - m.HostID), true
		}
	}
	return 0, false
}
