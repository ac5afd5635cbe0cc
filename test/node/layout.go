package node

import "path/filepath"

// Layout names every path under a node's state directory, in one place.
type Layout struct{ State string }

func (l Layout) path(p ...string) string { return filepath.Join(append([]string{l.State}, p...)...) }

func (l Layout) Etc() string           { return l.path("etc") }
func (l Layout) ConfigFile() string    { return l.path("etc", "crio.conf") }
func (l Layout) DropInDir() string     { return l.path("etc", "crio.conf.d") }
func (l Layout) Registries() string    { return l.path("etc", "registries.conf") }
func (l Layout) RegistriesDir() string { return l.path("etc", "registries.conf.d") }
func (l Layout) Policy() string        { return l.path("etc", "policy.json") }
func (l Layout) CNIDir() string        { return l.path("etc", "cni", "net.d") }
func (l Layout) HooksDir() string      { return l.path("hooks.d") }
func (l Layout) StorageRoot() string   { return l.path("storage", "root") }
func (l Layout) RunRoot() string       { return l.path("storage", "runroot") }
func (l Layout) Run() string           { return l.path("run") }
func (l Layout) Socket() string        { return l.path("run", "crio.sock") }
func (l Layout) PIDFile() string       { return l.path("run", "crio.pid") }
func (l Layout) NamespacesDir() string { return l.path("run", "ns") }
func (l Layout) Logs() string          { return l.path("logs") }
func (l Layout) CrioLog() string       { return l.path("logs", "crio.log") }
func (l Layout) PodLogs() string       { return l.path("logs", "pods") }
func (l Layout) Bin() string           { return l.path("bin") }
func (l Layout) Images() string        { return l.path("images") }
