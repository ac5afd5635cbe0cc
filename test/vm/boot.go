package vm

// BootConfig is boot.json on the boot share: what the agent sets up before
// it answers the host.
type BootConfig struct {
	Shares []MountRequest `json:"shares"`
}

// BootConfigName is the file's name on the boot share.
const BootConfigName = "boot.json"
