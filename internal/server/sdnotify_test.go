package server

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestSDNotify: a unix datagram socket stands in for systemd's notify
// socket (systemd itself cannot run in the test).
func TestSDNotify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	t.Setenv("NOTIFY_SOCKET", path)
	if err := sdNotify(readyMessage()); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 256)
	n, err := ln.Read(buf)
	if want := "READY=1\nMAINPID=" + strconv.Itoa(os.Getpid()); err != nil || string(buf[:n]) != want {
		t.Errorf("systemd got %q, %v; want %q", buf[:n], err, want)
	}
	t.Setenv("NOTIFY_SOCKET", "")
	if err := sdNotify("READY=1"); err != nil {
		t.Errorf("without NOTIFY_SOCKET: %v", err)
	}
}
