package node

import "github.com/crio-userns/crio-userns/internal/mountinfo"

// mountsUnder lists the mount points at or below dir.
func mountsUnder(dir string) ([]string, error) {
	mounts, err := mountinfo.MountsUnder(dir)
	if err != nil {
		return nil, err
	}
	points := make([]string, 0, len(mounts))
	for _, m := range mounts {
		points = append(points, m.MountPoint)
	}
	return points, nil
}

// unmountAll unmounts everything below dir, deepest first; a mount still
// busy is detached rather than left behind.
func unmountAll(dir string) error {
	_, err := mountinfo.UnmountUnder(dir)
	return err
}
