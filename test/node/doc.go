// Package node runs a throwaway CRI-O node on this machine for the e2e suite,
// the demo and the benchmarks.
//
// Everything the node writes lives under one state directory: configuration,
// storage, sockets, pinned namespaces, logs and hooks. Only /etc/subuid and
// /etc/subgid are touched outside it, because containers/storage reads its
// auto user-namespace ranges from there and nowhere else.
package node
