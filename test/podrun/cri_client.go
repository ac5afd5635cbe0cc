package podrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// MarkerLabel is put on every sandbox podrun creates, so that leftovers can be
// found and removed (Client.RemovePods) whatever their namespace.
const MarkerLabel = "crio-userns.test/podrun"

// StateEnv names the node bench's state directory; the node's socket is
// $CRIO_USERNS_STATE/run/crio.sock.
const StateEnv = "CRIO_USERNS_STATE"

// DefaultSocket returns the node bench's CRI socket: under $CRIO_USERNS_STATE
// if set (a relative value is taken from the repository root, as make does),
// else _output/node/run/crio.sock under the repository root found by walking
// up from the working directory to go.mod, else relative to the working
// directory itself.
func DefaultSocket() string {
	root := repoRoot()
	if state := os.Getenv(StateEnv); state != "" {
		if !filepath.IsAbs(state) && root != "" {
			state = filepath.Join(root, state)
		}
		return filepath.Join(state, "run", "crio.sock")
	}
	return filepath.Join(root, "_output", "node", "run", "crio.sock")
}

// repoRoot is the nearest directory at or above the working directory that
// holds a go.mod, or "" (meaning: the working directory).
func repoRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// Client holds CRI runtime and image service clients on one connection.
type Client struct {
	Socket  string
	Runtime runtimeapi.RuntimeServiceClient
	Images  runtimeapi.ImageServiceClient
	conn    *grpc.ClientConn
}

// Dial connects to the CRI socket and checks that a runtime answers (CRI
// Version) before returning. Without a deadline on ctx it waits at most 10s.
func Dial(ctx context.Context, socket string) (*Client, error) {
	abs, err := filepath.Abs(socket)
	if err != nil {
		return nil, fmt.Errorf("CRI socket %s: %w", socket, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("CRI socket %s: %w (is the node up? make node-up)", abs, err)
	}
	conn, err := grpc.NewClient("unix://"+abs,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		// CRI-O's ListContainers/verbose status answers can exceed gRPC's
		// 4 MiB default on a busy node; the kubelet allows 16 MiB.
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16<<20)))
	if err != nil {
		return nil, fmt.Errorf("connecting to CRI socket %s: %w", abs, err)
	}
	c := &Client{
		Socket:  abs,
		Runtime: runtimeapi.NewRuntimeServiceClient(conn),
		Images:  runtimeapi.NewImageServiceClient(conn),
		conn:    conn,
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	if _, err := c.Runtime.Version(ctx, &runtimeapi.VersionRequest{}); err != nil {
		conn.Close()
		return nil, fmt.Errorf("CRI Version on %s: %w", abs, err)
	}
	return c, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

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
