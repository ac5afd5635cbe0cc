package podrun

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio-userns/crio-userns/internal/cri"
	"github.com/crio-userns/crio-userns/internal/repo"
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
	root, err := repo.Root()
	if err != nil {
		root = ""
	}
	if state := os.Getenv(StateEnv); state != "" {
		if !filepath.IsAbs(state) && root != "" {
			state = filepath.Join(root, state)
		}
		return filepath.Join(state, "run", "crio.sock")
	}
	return filepath.Join(root, "_output", "node", "run", "crio.sock")
}

// Client is the CRI connection podrun drives the node with.
type Client = cri.Client

// Dial connects to the CRI socket and checks that a runtime answers (CRI
// Version) before returning. Without a deadline on ctx it waits at most 10s.
func Dial(ctx context.Context, socket string) (*Client, error) {
	if _, err := os.Stat(socket); err != nil {
		return nil, fmt.Errorf("CRI socket %s: %w (is the node up? make node-up)", socket, err)
	}
	c, err := cri.Dial(socket)
	if err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	if _, err := c.Runtime.Version(ctx, &runtimeapi.VersionRequest{}); err != nil {
		c.Close()
		return nil, fmt.Errorf("CRI Version on %s: %w", c.Socket, err)
	}
	return c, nil
}
