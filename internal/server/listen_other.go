//go:build !linux

package server

import "net"

// listenTCP opens a listening TCP socket on addr; the net package gives
// its accepted connections TCP keep-alive.
func listenTCP(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }

// setDeferAccept is Linux's (see listen_linux.go); elsewhere a connection
// is accepted at once.
func setDeferAccept(net.Listener) error { return nil }
