package podrun

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// fakeCRI is a CRI runtime and image service in the test process. Containers
// behave by their command:
//
//	["run", LINE...]     write LINEs to the log and keep running; the host PID
//	                     reported is the test process's own, so /proc sampling
//	                     has something real to read
//	["exit", N, LINE...] write LINEs and exit with code N
//	["fail-create", MSG] CreateContainer fails with MSG
//	["fail-start", MSG]  StartContainer fails with MSG
type fakeCRI struct {
	runtimeapi.UnimplementedRuntimeServiceServer
	runtimeapi.UnimplementedImageServiceServer

	mu         sync.Mutex
	sandboxes  map[string]*runtimeapi.PodSandboxConfig
	containers map[string]*fakeContainer
	removed    []string // sandbox IDs removed
	stopped    []string // container IDs stopped
	created    []*runtimeapi.CreateContainerRequest
	images     map[string]bool // present images; a missing one is pulled
	pulled     []string
	nextID     int
	sandboxErr error
}

type fakeContainer struct {
	sandbox string
	cfg     *runtimeapi.ContainerConfig
	state   runtimeapi.ContainerState
	exit    int32
}

// startFakeCRI serves a fakeCRI on a unix socket under t.TempDir.
func startFakeCRI(t *testing.T) (*fakeCRI, string) {
	t.Helper()
	f := &fakeCRI{
		sandboxes:  map[string]*runtimeapi.PodSandboxConfig{},
		containers: map[string]*fakeContainer{},
		images:     map[string]bool{"localhost/crio-userns/fedora-standin:latest": true},
	}
	sock := filepath.Join(t.TempDir(), "crio.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	runtimeapi.RegisterRuntimeServiceServer(srv, f)
	runtimeapi.RegisterImageServiceServer(srv, f)
	go srv.Serve(l)
	t.Cleanup(srv.Stop)
	return f, sock
}

func (f *fakeCRI) id(prefix string) string {
	f.nextID++
	return fmt.Sprintf("%s%04d", prefix, f.nextID)
}

func (f *fakeCRI) Version(context.Context, *runtimeapi.VersionRequest) (*runtimeapi.VersionResponse, error) {
	return &runtimeapi.VersionResponse{RuntimeName: "fake", RuntimeVersion: "0"}, nil
}

func (f *fakeCRI) RunPodSandbox(_ context.Context, req *runtimeapi.RunPodSandboxRequest) (*runtimeapi.RunPodSandboxResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sandboxErr != nil {
		return nil, f.sandboxErr
	}
	id := f.id("sb")
	f.sandboxes[id] = req.GetConfig()
	return &runtimeapi.RunPodSandboxResponse{PodSandboxId: id}, nil
}

func (f *fakeCRI) StopPodSandbox(_ context.Context, req *runtimeapi.StopPodSandboxRequest) (*runtimeapi.StopPodSandboxResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.containers {
		if c.sandbox == req.GetPodSandboxId() && c.state == runtimeapi.ContainerState_CONTAINER_RUNNING {
			c.state, c.exit = runtimeapi.ContainerState_CONTAINER_EXITED, 137
		}
	}
	return &runtimeapi.StopPodSandboxResponse{}, nil
}

func (f *fakeCRI) RemovePodSandbox(_ context.Context, req *runtimeapi.RemovePodSandboxRequest) (*runtimeapi.RemovePodSandboxResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.sandboxes[req.GetPodSandboxId()]; ok {
		delete(f.sandboxes, req.GetPodSandboxId())
		f.removed = append(f.removed, req.GetPodSandboxId())
	}
	for id, c := range f.containers {
		if c.sandbox == req.GetPodSandboxId() {
			delete(f.containers, id)
		}
	}
	return &runtimeapi.RemovePodSandboxResponse{}, nil
}

func (f *fakeCRI) ListPodSandbox(_ context.Context, req *runtimeapi.ListPodSandboxRequest) (*runtimeapi.ListPodSandboxResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var items []*runtimeapi.PodSandbox
	for id, cfg := range f.sandboxes {
		match := true
		for k, v := range req.GetFilter().GetLabelSelector() {
			if cfg.GetLabels()[k] != v {
				match = false
			}
		}
		if match {
			items = append(items, &runtimeapi.PodSandbox{Id: id, Labels: cfg.GetLabels()})
		}
	}
	return &runtimeapi.ListPodSandboxResponse{Items: items}, nil
}

func (f *fakeCRI) CreateContainer(_ context.Context, req *runtimeapi.CreateContainerRequest) (*runtimeapi.CreateContainerResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.created = append(f.created, req)
	cmd := req.GetConfig().GetCommand()
	if len(cmd) > 1 && cmd[0] == "fail-create" {
		return nil, status.Error(codes.Unknown, cmd[1])
	}
	if req.GetConfig().GetImage().GetUserSpecifiedImage() == "" {
		return nil, status.Error(codes.Unknown, "user specified image not specified, cannot verify image signature")
	}
	id := f.id("ctr")
	f.containers[id] = &fakeContainer{sandbox: req.GetPodSandboxId(), cfg: req.GetConfig(), state: runtimeapi.ContainerState_CONTAINER_CREATED}
	return &runtimeapi.CreateContainerResponse{ContainerId: id}, nil
}

func (f *fakeCRI) StartContainer(_ context.Context, req *runtimeapi.StartContainerRequest) (*runtimeapi.StartContainerResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.containers[req.GetContainerId()]
	if c == nil {
		return nil, status.Error(codes.NotFound, "no such container")
	}
	cmd := c.cfg.GetCommand()
	var lines []string
	switch {
	case len(cmd) > 1 && cmd[0] == "fail-start":
		return nil, status.Error(codes.Unknown, cmd[1])
	case len(cmd) > 1 && cmd[0] == "exit":
		n, _ := strconv.Atoi(cmd[1])
		c.state, c.exit, lines = runtimeapi.ContainerState_CONTAINER_EXITED, int32(n), cmd[2:]
	default:
		c.state = runtimeapi.ContainerState_CONTAINER_RUNNING
		if len(cmd) > 0 {
			lines = cmd[1:]
		}
	}
	logPath := filepath.Join(f.sandboxes[c.sandbox].GetLogDirectory(), c.cfg.GetLogPath())
	out, err := os.Create(logPath)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	defer out.Close()
	for _, l := range lines {
		fmt.Fprintf(out, "%s stdout F %s\n", time.Now().Format(time.RFC3339Nano), l)
	}
	return &runtimeapi.StartContainerResponse{}, nil
}

func (f *fakeCRI) ContainerStatus(_ context.Context, req *runtimeapi.ContainerStatusRequest) (*runtimeapi.ContainerStatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.containers[req.GetContainerId()]
	if c == nil {
		return nil, status.Error(codes.NotFound, "no such container")
	}
	resp := &runtimeapi.ContainerStatusResponse{Status: &runtimeapi.ContainerStatus{
		Id: req.GetContainerId(), State: c.state, ExitCode: c.exit,
	}}
	if req.GetVerbose() && c.state == runtimeapi.ContainerState_CONTAINER_RUNNING {
		info, _ := json.Marshal(map[string]any{"pid": os.Getpid(), "sandboxID": c.sandbox})
		resp.Info = map[string]string{"info": string(info)}
	}
	return resp, nil
}

func (f *fakeCRI) ExecSync(_ context.Context, req *runtimeapi.ExecSyncRequest) (*runtimeapi.ExecSyncResponse, error) {
	return &runtimeapi.ExecSyncResponse{Stdout: []byte(fmt.Sprintf("ran %q\n", req.GetCmd())), ExitCode: 3}, nil
}

func (f *fakeCRI) ImageStatus(_ context.Context, req *runtimeapi.ImageStatusRequest) (*runtimeapi.ImageStatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ref := req.GetImage().GetImage()
	if !f.images[ref] {
		return &runtimeapi.ImageStatusResponse{}, nil
	}
	return &runtimeapi.ImageStatusResponse{Image: &runtimeapi.Image{Id: "sha256:" + ref, RepoTags: []string{ref}}}, nil
}

func (f *fakeCRI) PullImage(_ context.Context, req *runtimeapi.PullImageRequest) (*runtimeapi.PullImageResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ref := req.GetImage().GetImage()
	if ref == "missing/image" {
		return nil, status.Error(codes.NotFound, "initializing source docker://missing/image: no such host")
	}
	f.images[ref] = true
	f.pulled = append(f.pulled, ref)
	return &runtimeapi.PullImageResponse{ImageRef: ref}, nil
}

func (f *fakeCRI) ListContainers(_ context.Context, req *runtimeapi.ListContainersRequest) (*runtimeapi.ListContainersResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*runtimeapi.Container
	for id, c := range f.containers {
		if sb := req.GetFilter().GetPodSandboxId(); sb == "" || sb == c.sandbox {
			out = append(out, &runtimeapi.Container{Id: id, PodSandboxId: c.sandbox, State: c.state})
		}
	}
	return &runtimeapi.ListContainersResponse{Containers: out}, nil
}

func (f *fakeCRI) StopContainer(_ context.Context, req *runtimeapi.StopContainerRequest) (*runtimeapi.StopContainerResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.containers[req.GetContainerId()]; c != nil && c.state == runtimeapi.ContainerState_CONTAINER_RUNNING {
		c.state, c.exit = runtimeapi.ContainerState_CONTAINER_EXITED, 137
		f.stopped = append(f.stopped, req.GetContainerId())
	}
	return &runtimeapi.StopContainerResponse{}, nil
}
