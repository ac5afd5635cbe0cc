// Package crio turns a CRI-O release from the Go module proxy plus one of the
// project's patch series into built binaries.
//
// CRI-O's source never lives in this repository: Fetch downloads the module
// (checksum-verified by the go command against the checksum database), Prepare
// copies it into a scratch git repository and applies patches/<version>/*.patch
// with git am, and Build compiles crio and pinns the way CRI-O's Makefile does.
// Each step records a stamp of its inputs so an unchanged rebuild does no work.
package crio
