//go:build !linux

package server

import "net"

// listenTCP opens a listening TCP socket on addr; the net package gives
// its accepted connections TCP keep-alive. clientFirst is a hint only
// Linux takes (see listen_linux.go).
func listenTCP(addr string, clientFirst bool) (net.Listener, error) {
	return net.Listen("tcp", addr)
}
