// Command crio-userns-hook is an OCI createRuntime hook that refuses a
// user-namespaced container whose ID mappings are broken, unsafe or not the
// ones the runtime applied. See crio-userns-hook(8).
package main

import (
	"os"
	"runtime"

	"github.com/crio-userns/crio-userns/hook/internal/app"
)

// version is set at build time: -ldflags "-X main.version=1.2.3".
var version = "dev"

func main() {
	// One thread of work: a second P would only make the runtime start
	// threads for the hook's two goroutines, at a cost every container pays.
	// The hooks.d entry sets GOMAXPROCS=1, so that the runtime starts with
	// one P and this call changes nothing; without it, the call stops the
	// world and returns the second P's cached spans (some 30 page faults).
	runtime.GOMAXPROCS(1)
	os.Exit(app.Main(os.Args[1:], app.Options{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Version: version,
	}))
}
