package vm

import (
	"context"
	"io"

	"github.com/crio-userns/crio-userns/test/node"
)

// hostDeps are the host's Debian packages a guest needs: QEMU to run it,
// mmdebstrap and mkfs.ext4 to build its image.
var hostDeps = []node.DebianDep{
	{Path: "/usr/bin/qemu-system-x86_64", Pkg: "qemu-system-x86"},
	{Path: "/usr/bin/mmdebstrap", Pkg: "mmdebstrap"},
	{Path: "/sbin/mkfs.ext4", Pkg: "e2fsprogs"},
}

// EnsureDeps installs the host packages a guest needs when any is missing.
func EnsureDeps(ctx context.Context, log io.Writer) error {
	return node.EnsurePackages(ctx, log, hostDeps)
}
