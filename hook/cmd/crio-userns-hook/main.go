// Command crio-userns-hook is an OCI createRuntime hook that refuses a
// user-namespaced container whose ID mappings are broken, unsafe or not the
// ones the runtime applied. See crio-userns-hook(8).
package main

import (
	"os"

	"github.com/crio-userns/crio-userns/hook/internal/app"
)

// version is set at build time: -ldflags "-X main.version=1.2.3".
var version = "dev"

func main() {
	os.Exit(app.Main(os.Args[1:], app.Options{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Version: version,
	}))
}
