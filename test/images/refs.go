package images

// The images' references in the node's store. "localhost/" keeps them from
// ever resolving to a registry; CRI-O with short_name_mode = "disabled" needs
// fully qualified names anyway.
const (
	RefUsernstest    = "localhost/crio-userns/usernstest:latest"
	RefFedoraStandin = "localhost/crio-userns/fedora-standin:latest"
	RefPause         = "localhost/crio-userns/pause:latest"
)

// Refs lists the three references in the order Build returns the images.
var Refs = []string{RefUsernstest, RefFedoraStandin, RefPause}

// PauseCommand is the pause image's entrypoint, for crio.conf's pause_command.
const PauseCommand = "/pause"

// UsernstestPath is where the usernstest image has its binary (its entrypoint).
const UsernstestPath = "/usr/bin/usernstest"
