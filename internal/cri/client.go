// Package cri holds the small pieces of CRI plumbing the project's tools
// share: dialling a runtime socket and tearing pods down.
package cri

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Client is a connection to a CRI runtime such as CRI-O.
type Client struct {
	conn    *grpc.ClientConn
	Runtime runtimeapi.RuntimeServiceClient
	Image   runtimeapi.ImageServiceClient
}

// Dial connects to the CRI socket at path. gRPC connects lazily, so the first
// call tells whether the runtime is actually there.
func Dial(path string) (*Client, error) {
	conn, err := grpc.NewClient("unix://"+path,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16<<20)))
	if err != nil {
		return nil, fmt.Errorf("connecting to CRI socket %s: %w", path, err)
	}
	return &Client{
		conn:    conn,
		Runtime: runtimeapi.NewRuntimeServiceClient(conn),
		Image:   runtimeapi.NewImageServiceClient(conn),
	}, nil
}

// Close releases the connection.
func (c *Client) Close() error { return c.conn.Close() }

// WaitReady polls Version until the runtime answers, ctx ends or alive
// reports that the runtime process is gone (so a crashed daemon is reported
// at once rather than after the whole timeout).
func (c *Client) WaitReady(ctx context.Context, alive func() error) (*runtimeapi.VersionResponse, error) {
	var last error
	for {
		callCtx, cancel := context.WithTimeout(ctx, time.Second)
		v, err := c.Runtime.Version(callCtx, &runtimeapi.VersionRequest{})
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
			return nil, fmt.Errorf("runtime did not answer: %w (last error: %v)", ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// RemovePods stops and removes every pod sandbox whose labels include all of
// selector (all pods when selector is empty), and returns how many it removed.
func (c *Client) RemovePods(ctx context.Context, selector map[string]string) (int, error) {
	resp, err := c.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{
		Filter: &runtimeapi.PodSandboxFilter{LabelSelector: selector},
	})
	if err != nil {
		return 0, fmt.Errorf("listing pods: %w", err)
	}
	var errs []error
	n := 0
	for _, sb := range resp.Items {
		if _, err := c.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: sb.Id}); err != nil {
			errs = append(errs, fmt.Errorf("stopping pod %s/%s (%s): %w", sb.Metadata.GetNamespace(), sb.Metadata.GetName(), sb.Id, err))
			continue
		}
		if _, err := c.Runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: sb.Id}); err != nil {
			errs = append(errs, fmt.Errorf("removing pod %s/%s (%s): %w", sb.Metadata.GetNamespace(), sb.Metadata.GetName(), sb.Id, err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
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
		pid, err := c.ContainerPID(ctx, ctr.Id)
		if err != nil {
			return nil, err
		}
		pids[ctr.Id] = pid
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
