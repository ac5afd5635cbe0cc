//go:build tools

// Package critest pins SIG Node's CRI validation suite (cri-tools' critest)
// and crictl in a module of its own: their dependencies (ginkgo, the
// Kubernetes client libraries) stay out of the project's go.mod. `go test -c
// sigs.k8s.io/cri-tools/cmd/critest` and `go build
// sigs.k8s.io/cri-tools/cmd/crictl` in this directory build them.
package critest

import (
	_ "sigs.k8s.io/cri-tools/cmd/crictl"
	_ "sigs.k8s.io/cri-tools/cmd/critest"
)
