package agent

import (
	"context"
	"time"

	"github.com/webrouter/webrouter/internal/catalog"
)

// event applies one container event.
func (a *Agent) event(ctx context.Context, ev Event) error {
	a.log.Debug("docker event", "action", ev.Action, "container", ShortID(ev.ID), "signal", ev.Signal)
	short := ShortID(ev.ID)
	switch ev.Action {
	case "start":
		a.mu.Lock()
		delete(a.stopping, short)
		a.mu.Unlock()
	case "kill":
		if IsStopSignal(ev.Signal, "") {
			a.stopNow(ctx, short, ev.Signal)
		}
		return a.sync(ctx, ev.ID, ev.Signal)
	}
	return a.sync(ctx, ev.ID, "")
}

// stopNow takes the instances of a container that got SIGTERM, SIGINT or
// SIGQUIT out of rotation at once, and removes them at once after SIGKILL,
// without inspecting the container first: Docker answers an inspect only
// once the kill is done (a few hundred milliseconds), and every request
// routed to the container meanwhile may fail.
func (a *Agent) stopNow(ctx context.Context, short, signal string) {
	a.mu.Lock()
	a.stopping[short] = time.Now()
	var ready, all []Key
	for k, cur := range a.known {
		if containerOf(k.ID, a.cfg.HostID) != short || cur.Removing {
			continue
		}
		all = append(all, k)
		if cur.Instance.State == catalog.Ready {
			ready = append(ready, k)
		}
	}
	a.mu.Unlock()
	if signalNumber(signal) == 9 {
		for _, k := range all {
			a.startRemoval(ctx, k)
		}
		return
	}
	for _, k := range ready {
		st := Step{Action: SetState, Key: k, State: catalog.Draining, Reg: Registration{Name: short, Reason: "stopping (signal " + signal + ")"}}
		if err := a.setState(ctx, st); err != nil {
			a.note("instance "+k.Service+"/"+k.ID, err)
		}
	}
}

// sync brings the registrations of one container up to date. A non-empty
// signal is that of a kill event: a stop signal drains the container.
func (a *Agent) sync(ctx context.Context, id, signal string) error {
	c, ok, err := a.engine.Inspect(ctx, id)
	if err != nil {
		return err
	}
	if ok && signal != "" && IsStopSignal(signal, c.StopSignal) {
		a.mu.Lock()
		a.stopping[ShortID(id)] = time.Now()
		a.mu.Unlock()
		a.log.Info("container stopping: draining its instances", "container", c.Name, "signal", signal)
	}
	var want []Registration
	a.mu.Lock()
	if !ok {
		delete(a.stopping, ShortID(id)) // destroyed
	}
	a.mu.Unlock()
	if ok {
		want = a.registrations(c)
	}
	a.mu.Lock()
	var have []Current
	for _, cur := range a.known {
		if containerOf(cur.Instance.ID, a.cfg.HostID) == ShortID(id) {
			have = append(have, *cur)
		}
	}
	a.mu.Unlock()
	return a.apply(ctx, want, have, false)
}
