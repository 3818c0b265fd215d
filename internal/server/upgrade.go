package server

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/cloudflare/tableflip"

	"github.com/webrouter/webrouter/internal/admin"
	"github.com/webrouter/webrouter/internal/registry"
)

// upgrader replaces the running binary with the one now at its own path
// (os.Args[0]) without closing the listening sockets: the new process
// inherits them, opens the registry, compiles its table and reports ready;
// only then does this process stop accepting and drain. If the new process
// fails to start, this one keeps serving and the error says why.
type upgrader struct {
	upg   *tableflip.Upgrader
	store registry.Store
	log   *slog.Logger
	mu    sync.Mutex
}

// Upgrade runs one upgrade and returns once the new process is ready (nil)
// or has failed (an error; this process keeps serving).
func (u *upgrader) Upgrade() error {
	if !u.mu.TryLock() {
		return fmt.Errorf("%w: an upgrade is already under way", admin.ErrUpgradeBusy)
	}
	defer u.mu.Unlock()
	handoff, _ := u.store.(registry.Handoff)
	if handoff != nil {
		if err := handoff.Suspend(); err != nil {
			return err
		}
	}
	u.log.Info("upgrade: starting the new process", "binary", os.Args[0])
	err := u.upg.Upgrade()
	// tableflip learns that the process this one replaced has exited
	// asynchronously; an upgrade asked for just as it exits may be refused.
	// Give the news a moment before calling it busy.
	for i := 0; i < 20 && err != nil && strings.Contains(err.Error(), "parent hasn't exited"); i++ {
		time.Sleep(50 * time.Millisecond)
		err = u.upg.Upgrade()
	}
	if err == nil {
		u.log.Info("upgrade: the new process is ready; this one stops accepting and drains")
		return nil
	}
	if handoff != nil {
		if rerr := handoff.Resume(); rerr != nil {
			u.log.Error("upgrade: could not take the registry back; routing continues on the last table, writes are refused", "error", rerr.Error())
		}
	}
	switch msg := err.Error(); {
	case strings.Contains(msg, "parent hasn't exited"):
		err = fmt.Errorf("%w: the process replaced by the previous upgrade is still draining; retry when it has exited", admin.ErrUpgradeBusy)
	case strings.Contains(msg, "upgrade in progress"), strings.Contains(msg, "not ready yet"):
		err = fmt.Errorf("%w: %s", admin.ErrUpgradeBusy, msg)
	default:
		err = fmt.Errorf("upgrade failed, the running process keeps serving: %s (the new process's own log lines, if any, precede this one)", msg)
	}
	u.log.Error("upgrade failed; still serving", "error", err.Error())
	return err
}
