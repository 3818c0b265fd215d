// Command webrouter is the front door of a container cluster: it runs the
// router (`webrouter serve`) and talks to a running router's admin API. All
// logic lives in internal/cli.
package main

import (
	"os"

	"github.com/webrouter/webrouter/internal/cli"
	"github.com/webrouter/webrouter/internal/sysmon"
)

// version is set at build time: go build -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		// Returns only when the router runs without the setting; the
		// router works the same, only less efficiently.
		_ = sysmon.Reexec()
	}
	os.Exit(cli.Main(os.Args[1:], version))
}
