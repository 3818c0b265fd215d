// Package upstream holds the runtime state of backend addresses.
//
// A Host is the state of one "address:port": requests in flight, passive
// failures, active health. It lives outside the routing table, in a Set
// keyed by address, so it survives every table swap and is shared by every
// service that points at the same address. A Target is one instance as one
// table generation sees it: immutable configuration plus its shared Host.
//
// Everything a request goroutine calls here is lock-free and does not
// allocate.
package upstream
