//go:build tools

// Package critest pins SIG Node's CRI validation suite (cri-tools' critest)
// in a module of its own: its dependencies (ginkgo, the Kubernetes client
// libraries) stay out of the project's go.mod. `go test -c
// sigs.k8s.io/cri-tools/cmd/critest` in this directory builds it.
package critest

import _ "sigs.k8s.io/cri-tools/cmd/critest"
