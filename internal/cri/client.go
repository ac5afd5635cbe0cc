// Package cri holds the CRI plumbing the project's tools share: dialling a
// runtime socket, resolving images, reading container PIDs and tearing pods
// down.
package cri

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Client holds CRI runtime and image service clients on one connection.
type Client struct {
	Socket  string
	Runtime runtimeapi.RuntimeServiceClient
	Images  runtimeapi.ImageServiceClient
	conn    *grpc.ClientConn
}

// Dial connects to the CRI socket at path. gRPC connects lazily, so the first
// call (or WaitReady) tells whether the runtime is actually there.
func Dial(path string) (*Client, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("CRI socket %s: %w", path, err)
	}
	conn, err := grpc.NewClient("unix://"+abs,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		// CRI-O's ListContainers/verbose status answers can exceed gRPC's
		// 4 MiB default on a busy node; the kubelet allows 16 MiB.
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16<<20)),
		// Tests restart CRI-O under a live connection: reconnect within a
		// second rather than after gRPC's default backoff of up to 2 minutes.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, MaxDelay: time.Second},
			// One attempt may take seconds when the socket is a guest
			// node's, forwarded through two relays into a TCG guest.
			MinConnectTimeout: 10 * time.Second,
		}))
	if err != nil {
		return nil, fmt.Errorf("connecting to CRI socket %s: %w", abs, err)
	}
	return &Client{
		Socket:  abs,
		Runtime: runtimeapi.NewRuntimeServiceClient(conn),
		Images:  runtimeapi.NewImageServiceClient(conn),
		conn:    conn,
	}, nil
}

// Close releases the connection.
func (c *Client) Close() error { return c.conn.Close() }

// WaitReady polls the runtime until it answers Version and its Status
// reports RuntimeReady and NetworkReady, ctx ends or alive reports that the
// runtime process is gone (so a crashed daemon is reported at once rather
// than after the whole timeout). The kubelet, too, sends no RunPodSandbox
// for a pod network before NetworkReady; and a CRI-O before 1.36 whose
// RunPodSandbox had to wait for its CNI plugin can hang in its shutdown
// (its CNI manager's second Shutdown blocks on the waiter's full channel).
func (c *Client) WaitReady(ctx context.Context, alive func() error) (*runtimeapi.VersionResponse, error) {
	var last error
	for {
		callCtx, cancel := context.WithTimeout(ctx, time.Second)
		v, err := c.Runtime.Version(callCtx, &runtimeapi.VersionRequest{})
		if err == nil {
			err = c.ready(callCtx)
		}
		cancel()
		if err == nil {
			return v, nil
		}
		last = err
		if alive != nil {
			if err := alive(); err != nil {
				return nil, err
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("runtime not ready: %w (last error: %v)", ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ready returns an error unless the runtime's Status reports both
// RuntimeReady and NetworkReady.
func (c *Client) ready(ctx context.Context) error {
	st, err := c.Runtime.Status(ctx, &runtimeapi.StatusRequest{})
	if err != nil {
		return err
	}
	for _, want := range []string{runtimeapi.RuntimeReady, runtimeapi.NetworkReady} {
		ok := false
		for _, cond := range st.GetStatus().GetConditions() {
			if cond.GetType() == want && cond.GetStatus() {
				ok = true
			}
		}
		if !ok {
			return fmt.Errorf("status condition %s is not true: %v", want, st.GetStatus().GetConditions())
		}
	}
	return nil
}

// EnsureImage returns the image ref resolves to, pulling it first if the
// node's storage lacks it (the kubelet's EnsureImageExists; the bench's
// images are preloaded, so a pull is the exception).
func (c *Client) EnsureImage(ctx context.Context, ref string) (*runtimeapi.Image, error) {
	spec := &runtimeapi.ImageSpec{Image: ref, UserSpecifiedImage: ref}
	st, err := c.Images.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: spec})
	if err != nil {
		return nil, fmt.Errorf("image status of %s: %w", ref, err)
	}
	if st.GetImage() != nil {
		return st.GetImage(), nil
	}
	pulled, err := c.Images.PullImage(ctx, &runtimeapi.PullImageRequest{Image: spec})
	if err != nil {
		return nil, fmt.Errorf("pulling %s: %w", ref, err)
	}
	st, err = c.Images.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: pulled.GetImageRef()}})
	if err != nil {
		return nil, fmt.Errorf("image status of %s (pulled as %s): %w", ref, pulled.GetImageRef(), err)
	}
	if st.GetImage() == nil {
		return nil, fmt.Errorf("image %s: pulled as %s, but the runtime does not know it", ref, pulled.GetImageRef())
	}
	return st.GetImage(), nil
}

// ContainerStatus returns a container's status and, when verbose, the host PID
// of its init process from the runtime's info (CRI-O: info["info"] is JSON
// with a "pid" field; 0 when not running).
func (c *Client) ContainerStatus(ctx context.Context, id string, verbose bool) (*runtimeapi.ContainerStatus, int, error) {
	resp, err := c.Runtime.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id, Verbose: verbose})
	if err != nil {
		return nil, 0, err
	}
	if resp.GetStatus() == nil {
		return nil, 0, fmt.Errorf("container %s: runtime returned no status", id)
	}
	pid := 0
	for _, v := range resp.GetInfo() {
		var info struct {
			Pid int `json:"pid"`
		}
		if json.Unmarshal([]byte(v), &info) == nil && info.Pid > 0 {
			pid = info.Pid
			break
		}
	}
	return resp.GetStatus(), pid, nil
}

// StopAndRemovePod kills the sandbox's containers, then stops and removes the
// sandbox. A sandbox that is already gone is not an error.
//
// The kubelet stops each container with the pod's termination grace period
// before StopPodSandbox; podrun kills at once (StopContainer timeout 0). A
// bench container such as `sleep 3600` runs as PID 1 of its PID namespace and
// ignores SIGTERM, and CRI-O's StopPodSandbox otherwise waits for as long as
// the request's deadline allows.
func (c *Client) StopAndRemovePod(ctx context.Context, id string) error {
	var errs []error
	ctrs, err := c.Runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{
		Filter: &runtimeapi.ContainerFilter{PodSandboxId: id},
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("listing the containers of pod sandbox %s: %w", id, err))
	}
	for _, ctr := range ctrs.GetContainers() {
		if ctr.GetState() != runtimeapi.ContainerState_CONTAINER_RUNNING {
			continue
		}
		if _, err := c.Runtime.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: ctr.GetId(), Timeout: 0}); err != nil {
			errs = append(errs, fmt.Errorf("stopping container %s: %w", ctr.GetId(), err))
		}
	}
	if _, err := c.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id}); err != nil {
		errs = append(errs, fmt.Errorf("stopping pod sandbox %s: %w", id, err))
	}
	if _, err := c.Runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id}); err != nil {
		errs = append(errs, fmt.Errorf("removing pod sandbox %s: %w", id, err))
	} else {
		// Removal succeeded: failures to stop on the way do not matter.
		errs = nil
	}
	return errors.Join(errs...)
}

// RemovePods stops and removes every sandbox whose labels include all of
// selector, e.g. {MarkerLabel: "true"} for everything podrun left behind or
// {LabelPodNamespace: "test"} for one namespace. It returns the IDs removed.
func (c *Client) RemovePods(ctx context.Context, selector map[string]string) ([]string, error) {
	resp, err := c.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{
		Filter: &runtimeapi.PodSandboxFilter{LabelSelector: selector},
	})
	if err != nil {
		return nil, fmt.Errorf("listing pod sandboxes %v: %w", selector, err)
	}
	var removed []string
	var errs []error
	for _, sb := range resp.GetItems() {
		if err := c.StopAndRemovePod(ctx, sb.GetId()); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, sb.GetId())
	}
	return removed, errors.Join(errs...)
}

// ContainerPIDs returns the host PID of every running container's init
// process, read from the verbose status the way crictl inspect does.
func (c *Client) ContainerPIDs(ctx context.Context) (map[string]int, error) {
	resp, err := c.Runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	pids := map[string]int{}
	for _, ctr := range resp.Containers {
		if ctr.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
			continue
		}
		_, pid, err := c.ContainerStatus(ctx, ctr.Id, true)
		if err != nil {
			return nil, fmt.Errorf("container %s status: %w", ctr.Id, err)
		}
		if pid > 0 {
			pids[ctr.Id] = pid
		}
	}
	return pids, nil
}

// ListPods returns "namespace/name id" for every pod sandbox the runtime knows.
func (c *Client) ListPods(ctx context.Context) ([]string, error) {
	resp, err := c.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return nil, fmt.Errorf("listing pods: %w", err)
	}
	var out []string
	for _, sb := range resp.Items {
		out = append(out, fmt.Sprintf("%s/%s %s", sb.Metadata.GetNamespace(), sb.Metadata.GetName(), sb.Id))
	}
	return out, nil
}
