// Package hangup tells which of many TCP connections their peer has
// finished (a FIN: it closed or half-closed its side) or reset, without a
// system call per connection: the connections are registered with an epoll
// instance of the package's own, for the peer's hang-up only, and the
// caller polls it from time to time without waiting.
//
// Contract:
//   - Add registers a connection's descriptor under a key of the caller's
//     choosing. From then on the first Poll after the peer hangs up (a FIN,
//     a reset, an error on the socket) reports that key, at least once;
//     one that hung up before Add is reported too. Data that arrives
//     raises nothing: a busy connection costs no event and no wake-up,
//     only the kernel's check of the registration's mask as data arrives.
//   - A key may be reported again (a reset after a FIN), and may be
//     reported for a connection already closed (a Poll's events are read
//     before the caller looks them up): the caller checks what a key
//     stands for when it is reported.
//   - A registration ends when the descriptor is closed (the kernel drops
//     it with the socket); nothing needs removing. A descriptor must not
//     be duplicated while registered (the registration would outlive its
//     closing).
//   - Add and Poll are made by one goroutine at a time; Close once, after
//     the last of them.
//   - Only on Linux: New fails elsewhere (errors.ErrUnsupported), and the
//     caller does without (package h1 then looks at each connection).
package hangup
