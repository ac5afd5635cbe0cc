// Command crio-userns-guest-agent runs in the guest node (a systemd service
// from the boot share): it brings up the guest's network address, mounts the
// host's shares, relays the CRI port to crio's socket and serves the agent
// API to the host (package test/vm/agent).
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/crio-userns/crio-userns/test/node"
	"github.com/crio-userns/crio-userns/test/vm"
	"github.com/crio-userns/crio-userns/test/vm/agent"
)

func main() {
	startedAt := agent.Uptime()
	logger := log.New(os.Stderr, "", 0)
	if err := setup(); err != nil {
		logger.Fatal(err)
	}
	cri, err := net.Listen("tcp", fmt.Sprintf("%s:%d", vm.GuestAddr, vm.GuestCRIPort))
	if err != nil {
		logger.Fatal(err)
	}
	go agent.RelayCRI(cri, node.Layout{State: vm.GuestState}.Socket(), logger)
	api, err := net.Listen("tcp", fmt.Sprintf("%s:%d", vm.GuestAddr, vm.GuestAgentPort))
	if err != nil {
		logger.Fatal(err)
	}
	logger.Printf("agent up %.1fs after boot", startedAt)
	logger.Fatal(http.Serve(api, agent.New(startedAt, logger).Handler()))
}

// setup gives the guest its address on the link-local net the host forwards
// into (the interface appears once udev has loaded virtio_net) and mounts the
// shares boot.json names.
func setup() error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := os.Stat("/sys/class/net/eth0"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no eth0 after 2 minutes")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"link", "set", "eth0", "up"},
		{"addr", "replace", vm.GuestAddr + "/24", "dev", "eth0"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	data, err := os.ReadFile(filepath.Join(vm.BootMount, vm.BootConfigName))
	if err != nil {
		return err
	}
	var cfg vm.BootConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		return fmt.Errorf("%s: %w", vm.BootConfigName, err)
	}
	for _, m := range cfg.Shares {
		if err := agent.Mount(m); err != nil {
			return err
		}
	}
	return nil
}
