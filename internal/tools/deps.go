//go:build tools

// Package tools pins dependencies that the project's packages grow into,
// so that parallel work on separate packages never races on go.mod.
package tools

import (
	_ "github.com/BurntSushi/toml"
	_ "github.com/opencontainers/runtime-spec/specs-go"
	_ "github.com/sirupsen/logrus"
	_ "golang.org/x/sys/unix"
	_ "google.golang.org/grpc"
	_ "k8s.io/api/core/v1"
	_ "k8s.io/apimachinery/pkg/api/resource"
	_ "k8s.io/cri-api/pkg/apis/runtime/v1"
	_ "sigs.k8s.io/yaml"
)
