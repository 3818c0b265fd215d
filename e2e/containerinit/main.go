// Command containerinit is baked, beside cmd/demoapp, into the image the
// Docker agent's end-to-end tests build FROM scratch (which has no shell):
//
//	containerinit run [-lame-duck 1s] -- /demoapp -listen :8080 …
//	containerinit check [-state /health] http://127.0.0.1:8080/healthz
//
// run is the container's init: it starts the command and passes SIGTERM
// and SIGINT on to it -lame-duck after receiving them, so that the app
// keeps serving while the agent (which sees Docker's kill event) drains
// it; this is what a graceful app needs for zero failed requests on
// `docker stop` (see the README, "Registering containers"). It exits with
// the command's exit code.
//
// check is a Docker health check in exec form: it exits 0 when url
// answers 2xx, 1 otherwise, and 1 whenever the file -state holds "down"
// (a test turns a container unhealthy and back with `docker cp`).
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: containerinit run|check …")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "run":
		os.Exit(run(os.Args[2:]))
	case "check":
		os.Exit(check(os.Args[2:]))
	}
	fmt.Fprintf(os.Stderr, "containerinit: unknown mode %q; want run or check\n", os.Args[1])
	os.Exit(2)
}

// run starts the command in args and forwards termination signals after
// the lame-duck period; other signals are forwarded at once.
func run(args []string) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	lameDuck := fs.Duration("lame-duck", 0, "keep the app serving this long after SIGTERM/SIGINT")
	if err := fs.Parse(args); err != nil || fs.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: containerinit run [-lame-duck 1s] -- command [args…]")
		return 2
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	cmd := exec.Command(fs.Arg(0), fs.Args()[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "containerinit:", err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case err := <-done:
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				return exit.ExitCode()
			}
			return 0
		case s := <-sigs:
			if s == syscall.SIGTERM || s == syscall.SIGINT {
				fmt.Fprintf(os.Stderr, "{\"msg\":\"containerinit: %s; passing it on after %s\"}\n", s, *lameDuck)
				go func() {
					time.Sleep(*lameDuck)
					cmd.Process.Signal(s)
				}()
				continue
			}
			cmd.Process.Signal(s)
		}
	}
}

// check is the health check: 0 healthy, 1 unhealthy.
func check(args []string) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	state := fs.String("state", "/health", "a file that turns the check down while it holds \"down\"")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: containerinit check [-state file] URL")
		return 2
	}
	if b, err := os.ReadFile(*state); err == nil && bytes.Equal(bytes.TrimSpace(b), []byte("down")) {
		fmt.Println("down: " + *state + " says so")
		return 1
	}
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(fs.Arg(0))
	if err != nil {
		fmt.Println(err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		fmt.Println(resp.Status)
		return 1
	}
	return 0
}
