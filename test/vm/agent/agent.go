// Package agent is the guest node's side of the host's channel: a small HTTP
// server that runs in the guest as a systemd service, brings the guest's
// CRI-O up and down with test/node (crio as crio.service), reads the guest's
// /proc for podrun, reports leftovers, and relays a TCP port to crio's Unix
// socket so that the host can forward its own socket to it.
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/crio-userns/crio-userns/internal/mountinfo"
	"github.com/crio-userns/crio-userns/test/images"
	"github.com/crio-userns/crio-userns/test/images/ocilayout"
	"github.com/crio-userns/crio-userns/test/node"
	"github.com/crio-userns/crio-userns/test/podrun/proctree"
	"github.com/crio-userns/crio-userns/test/vm"
)

// Server is the agent.
type Server struct {
	mu   sync.Mutex // one node operation at a time
	node *node.Node
	// loaded are the images in the node's store, by reference, with their
	// manifest digests: nodes of every flavour share the store for the
	// guest's lifetime, so an image is copied in once.
	loaded    map[string]string
	startedAt float64
	log       *log.Logger
}

// New returns an agent; startedAt is the guest's uptime when it started.
func New(startedAt float64, logger *log.Logger) *Server {
	return &Server{startedAt: startedAt, log: logger, loaded: map[string]string{}}
}

// Handler serves the API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+vmPath("ping"), s.ping)
	mux.HandleFunc("POST "+vmPath("mount"), s.mount)
	mux.HandleFunc("POST "+vmPath("node/up"), s.nodeUp)
	mux.HandleFunc("POST "+vmPath("node/down"), s.nodeDown)
	mux.HandleFunc("POST "+vmPath("node/images"), s.images)
	mux.HandleFunc("POST "+vmPath("node/restart"), s.restart)
	mux.HandleFunc("GET "+vmPath("node/idle"), s.idle)
	mux.HandleFunc("GET "+vmPath("node/leftovers"), s.leftovers)
	mux.HandleFunc("GET "+vmPath("proc/{pid}"), s.proc)
	mux.HandleFunc("GET "+vmPath("file"), s.file)
	mux.HandleFunc("GET "+vmPath("glob"), s.glob)
	mux.HandleFunc("POST "+vmPath("exec"), s.exec)
	mux.HandleFunc("POST "+vmPath("poweroff"), s.poweroff)
	return mux
}

func vmPath(p string) string { return "/v1/" + p }

func reply(w http.ResponseWriter, v any, err error) {
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if raw, ok := v.([]byte); ok {
		_, _ = w.Write(raw)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func decode(r *http.Request, v any) error {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		return fmt.Errorf("decoding request: %w", err)
	}
	return nil
}

func (s *Server) ping(w http.ResponseWriter, r *http.Request) {
	p := vm.Ping{AgentStartedAt: s.startedAt, UptimeSeconds: Uptime()}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		p.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	var st unix.Statfs_t
	if unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		p.CgroupFS = "cgroup2fs"
	}
	if comm, err := os.ReadFile("/proc/1/comm"); err == nil {
		p.Init = strings.TrimSpace(string(comm))
	}
	out, _ := exec.CommandContext(r.Context(), "systemctl", "is-system-running").Output()
	p.SystemState = strings.TrimSpace(string(out))
	reply(w, p, nil)
}

// mount mounts a 9p share at the path it has on the host.
func (s *Server) mount(w http.ResponseWriter, r *http.Request) {
	var m vm.MountRequest
	if err := decode(r, &m); err != nil {
		reply(w, nil, err)
		return
	}
	reply(w, struct{}{}, Mount(m))
}

// Mount mounts a share.
func Mount(m vm.MountRequest) error {
	if !filepath.IsAbs(m.Path) {
		return fmt.Errorf("mount %s: path %q is not absolute", m.Tag, m.Path)
	}
	if err := os.MkdirAll(m.Path, 0o755); err != nil {
		return err
	}
	opts := "trans=virtio,version=9p2000.L,msize=262144,cache=none"
	var flags uintptr
	if m.ReadOnly {
		flags |= unix.MS_RDONLY
	}
	if err := unix.Mount(m.Tag, m.Path, "9p", flags, opts); err != nil {
		return fmt.Errorf("mounting share %s at %s: %w", m.Tag, m.Path, err)
	}
	return nil
}

func (s *Server) nodeUp(w http.ResponseWriter, r *http.Request) {
	var req vm.NodeUpRequest
	if err := decode(r, &req); err != nil {
		reply(w, nil, err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	resp, err := s.up(r.Context(), req)
	reply(w, resp, err)
}

func (s *Server) up(ctx context.Context, req vm.NodeUpRequest) (*vm.NodeUpResponse, error) {
	if s.node != nil {
		return nil, fmt.Errorf("a node is already up in %s: bring it down first", s.node.State)
	}
	start := time.Now()
	// Nodes of every flavour take turns on one state directory here: each
	// starts a log of its own, as each has on the host bench, so that what
	// one flavour logged is never read as another's.
	log := node.Layout{State: vm.GuestState}.CrioLog()
	if err := os.Rename(log, log+".previous"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	// What an earlier node left (pinned namespaces, mounts) was reported
	// when it went down; it must not fail the idle checks of the next one.
	layout := node.Layout{State: vm.GuestState}
	if _, err := mountinfo.UnmountUnder(layout.NamespacesDir()); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(layout.NamespacesDir()); err != nil {
		return nil, err
	}
	var imagesTook time.Duration
	runtimes := req.Runtimes
	if len(runtimes) == 0 {
		runtimes = vm.GuestRuntimes
	}
	manager := req.CgroupManager
	if manager == "" {
		manager = "systemd"
	}
	n, err := node.Up(ctx, node.Config{
		State:   vm.GuestState,
		CrioDir: req.CrioDir,
		DropIns: req.DropIns,
		Hooks:   req.Hooks,
		LoadImages: func(ctx context.Context, root, runRoot string) error {
			t := time.Now()
			defer func() { imagesTook = time.Since(t) }()
			return s.loadImages(ctx, root, runRoot, req.Images)
		},
		Log:               logWriter{s.log},
		Runtimes:          runtimes,
		CgroupManager:     manager,
		Unit:              vm.CrioUnit,
		PackagesInstalled: true,
	})
	if err != nil {
		return nil, err
	}
	s.node = n
	return &vm.NodeUpResponse{PID: n.PID(), Elapsed: time.Since(start), ImagesTook: imagesTook}, nil
}

// loadImages copies the images the store does not have yet.
func (s *Server) loadImages(ctx context.Context, root, runRoot string, refs []vm.ImageRef) error {
	for _, ref := range refs {
		man, err := ocilayout.ReadIndex(ref.Layout, ref.Tag)
		if err != nil {
			return fmt.Errorf("image %s: %w", ref.Ref, err)
		}
		if s.loaded[ref.Ref] == man.Digest {
			continue
		}
		img := images.Image{Name: filepath.Base(ref.Layout), Ref: ref.Ref, Layout: ref.Layout, Tag: ref.Tag}
		if err := images.Load(ctx, img, root, runRoot); err != nil {
			return err
		}
		s.loaded[ref.Ref] = man.Digest
	}
	return nil
}

// images loads more images into the running node's store.
func (s *Server) images(w http.ResponseWriter, r *http.Request) {
	var refs []vm.ImageRef
	if err := decode(r, &refs); err != nil {
		reply(w, nil, err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.current()
	if err == nil {
		err = s.loadImages(r.Context(), n.StorageRoot(), n.RunRoot(), refs)
	}
	reply(w, struct{}{}, err)
}

func (s *Server) nodeDown(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	left, err := s.down(r.Context())
	reply(w, left, err)
}

// down brings the node down and adds what only a systemd node can leave
// behind: units of the pods' cgroups.
func (s *Server) down(ctx context.Context) (*node.Leftovers, error) {
	n := s.node
	if n == nil {
		// Nothing this agent started; look anyway, e.g. after an agent restart.
		var err error
		if n, err = node.Attach(vm.GuestState); err != nil {
			return nil, err
		}
	}
	left, err := n.Down(ctx)
	s.node = nil
	if left == nil {
		left = &node.Leftovers{}
	}
	left.Cgroups = append(left.Cgroups, settledPodCgroups()...)
	return left, err
}

// settledPodCgroups gives systemd a few seconds to collect the scopes of
// processes that have just exited before calling what remains a leak.
func settledPodCgroups() []string {
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := PodCgroups()
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// PodCgroups lists the cgroups CRI-O's systemd cgroup manager makes for pods
// and their monitors (crio-ID.scope, crio-conmon-ID.scope) that still exist.
func PodCgroups() []string {
	var found []string
	_ = filepath.WalkDir("/sys/fs/cgroup", func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if name := d.Name(); strings.HasPrefix(name, "crio-") && strings.HasSuffix(name, ".scope") {
			found = append(found, path)
			return filepath.SkipDir
		}
		return nil
	})
	return found
}

func (s *Server) current() (*node.Node, error) {
	if s.node == nil {
		return nil, errors.New("no node is up in the guest")
	}
	return s.node, nil
}

func (s *Server) restart(w http.ResponseWriter, r *http.Request) {
	var req vm.RestartRequest
	if err := decode(r, &req); err != nil {
		reply(w, nil, err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.current()
	if err == nil {
		err = n.Restart(r.Context(), syscall.Signal(req.Signal))
	}
	reply(w, struct{}{}, err)
}

func (s *Server) idle(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.current()
	if err != nil {
		reply(w, nil, err)
		return
	}
	left, err := n.CheckIdle(r.Context())
	if err == nil {
		left.Cgroups = settledPodCgroups()
	}
	reply(w, left, err)
}

func (s *Server) leftovers(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	left, err := node.Layout{State: vm.GuestState}.FindLeftovers(nil)
	if err == nil {
		left.Cgroups = PodCgroups()
	}
	reply(w, left, err)
}

func (s *Server) proc(w http.ResponseWriter, r *http.Request) {
	pid, err := strconv.Atoi(r.PathValue("pid"))
	if err != nil || pid <= 0 {
		reply(w, nil, fmt.Errorf("bad pid %q", r.PathValue("pid")))
		return
	}
	snap, err := proctree.ReadProc("/proc", pid)
	reply(w, snap, err)
}

func (s *Server) file(w http.ResponseWriter, r *http.Request) {
	data, err := os.ReadFile(r.URL.Query().Get("path"))
	reply(w, data, err)
}

func (s *Server) glob(w http.ResponseWriter, r *http.Request) {
	matches, err := filepath.Glob(r.URL.Query().Get("pattern"))
	if matches == nil {
		matches = []string{}
	}
	reply(w, matches, err)
}

func (s *Server) exec(w http.ResponseWriter, r *http.Request) {
	var req vm.ExecRequest
	if err := decode(r, &req); err != nil {
		reply(w, nil, err)
		return
	}
	if len(req.Args) == 0 {
		reply(w, nil, errors.New("exec: no command"))
		return
	}
	ctx := r.Context()
	if req.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, req.Timeout)
		defer cancel()
	}
	var stdout, stderr strings.Builder
	cmd := exec.CommandContext(ctx, req.Args[0], req.Args[1:]...)
	cmd.Env = append(os.Environ(), req.Env...)
	cmd.Dir = req.Dir
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Its own process group, killed whole on timeout.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	err := cmd.Run()
	resp := vm.ExecResponse{Stdout: stdout.String(), Stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		resp.ExitCode = exit.ExitCode()
		if ctx.Err() != nil {
			resp.Stderr += fmt.Sprintf("\n(killed after %s)", req.Timeout)
		}
		err = nil
	case err != nil:
		err = fmt.Errorf("running %q: %w", req.Args, err)
	}
	reply(w, resp, err)
}

func (s *Server) poweroff(w http.ResponseWriter, r *http.Request) {
	reply(w, struct{}{}, nil)
	go func() {
		time.Sleep(100 * time.Millisecond)
		if err := exec.Command("systemctl", "poweroff").Run(); err != nil {
			s.log.Printf("systemctl poweroff: %v", err)
		}
	}()
}

// RelayCRI accepts TCP connections on l and joins each to crio's socket: the
// host's forward ends here.
func RelayCRI(l net.Listener, socket string, logger *log.Logger) {
	for {
		c, err := l.Accept()
		if err != nil {
			logger.Printf("CRI relay: %v", err)
			return
		}
		go func() {
			defer c.Close()
			u, err := net.DialTimeout("unix", socket, 10*time.Second)
			if err != nil {
				return // no crio up: the client sees the connection close
			}
			defer u.Close()
			vm.Join(c, u)
		}()
	}
}

// Uptime is the guest's uptime in seconds.
func Uptime() float64 {
	data, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

type logWriter struct{ l *log.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.l.Print(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
