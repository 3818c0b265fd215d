package server

import (
	"net"
	"testing"
	"time"
)

// TestReleaseStopsEveryCopy: the upgrader keeps a duplicate of each socket
// it may hand over; releasing a TCP service port must stop the kernel
// accepting on it although that duplicate stays open, and the port must
// be free to listen on again.
func TestReleaseStopsEveryCopy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	dup, err := ln.(*net.TCPListener).File() // what tableflip holds
	if err != nil {
		t.Fatal(err)
	}
	defer dup.Close()
	if !accepting(ln) {
		t.Fatal("a listening socket is not accepting")
	}
	dupLn, err := net.FileListener(dup)
	if err != nil {
		t.Fatal(err)
	}
	defer dupLn.Close()
	upgListener{}.Release(ln)
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("the port still accepts after Release")
	}
	if accepting(dupLn) {
		t.Error("the duplicate still listens")
	}
	again, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the port cannot be opened again: %v", err)
	}
	again.Close()
}
