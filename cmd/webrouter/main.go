// Command webrouter is the front door of a container cluster: it runs the
// router (`webrouter serve`) and talks to a running router's admin API. All
// logic lives in internal/cli.
package main

import (
	"os"

	"github.com/webrouter/webrouter/internal/cli"
)

// version is set at build time: go build -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() { os.Exit(cli.Main(os.Args[1:], version)) }
