package server

import (
	"fmt"
	"net"
	"os"
)

// sdNotify sends a readiness message to systemd when it supervises this
// process (Type=notify): NOTIFY_SOCKET names a unix datagram socket. With
// NotifyAccess=all, the process an upgrade started announces itself as the
// service's main process, so systemd follows the upgrade. Without
// NOTIFY_SOCKET it does nothing.
func sdNotify(state string) error {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	if path[0] == '@' { // abstract namespace
		path = "\x00" + path[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("notify systemd: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("notify systemd: %w", err)
	}
	return nil
}

// readyMessage tells systemd this process is ready and is the main one.
func readyMessage() string { return fmt.Sprintf("READY=1\nMAINPID=%d", os.Getpid()) }
