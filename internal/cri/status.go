package cri

import (
	"context"
	"encoding/json"
	"fmt"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ContainerPID is the host PID of a container's init process, from the
// "info" map of a verbose ContainerStatus (CRI-O puts its inspect JSON there).
func (c *Client) ContainerPID(ctx context.Context, id string) (int, error) {
	st, err := c.Runtime.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id, Verbose: true})
	if err != nil {
		return 0, fmt.Errorf("container %s status: %w", id, err)
	}
	return PIDFromInfo(st.Info)
}

// PIDFromInfo extracts the pid from a verbose status info map.
func PIDFromInfo(info map[string]string) (int, error) {
	raw, ok := info["info"]
	if !ok {
		if p, ok := info["pid"]; ok {
			raw = `{"pid":` + p + `}`
		} else {
			return 0, fmt.Errorf("verbose status has no info")
		}
	}
	var v struct {
		Pid int `json:"pid"`
	}
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		return 0, fmt.Errorf("decoding verbose status info: %w", err)
	}
	if v.Pid <= 0 {
		return 0, fmt.Errorf("verbose status info has no pid")
	}
	return v.Pid, nil
}
