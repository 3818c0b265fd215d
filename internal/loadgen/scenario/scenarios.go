package scenario

import (
	"context"
	"fmt"
	"time"
)

// startApps starts n backends named prefix-0… ready at once.
func (r *runner) startApps(prefix string, n int) ([]*App, error) {
	apps := make([]*App, n)
	for i := range apps {
		a, err := r.app(fmt.Sprintf("%s-%d", prefix, i), 0)
		if err != nil {
			return nil, err
		}
		apps[i] = a
	}
	return apps, nil
}

// service writes a service on one host with one instance per app, named
// i0, i1, … of weight 10, and returns the host.
func (r *runner) service(ctx context.Context, name string, apps []*App) (string, error) {
	host := name + ".bench"
	if err := r.p.PutService(ctx, name, Service{Hosts: []string{host}}); err != nil {
		return "", err
	}
	for i, a := range apps {
		if err := r.p.PutInstance(ctx, name, fmt.Sprintf("i%d", i), Instance{Port: a.Port, Weight: 10}); err != nil {
			return "", err
		}
	}
	return host, nil
}

// churn is scenario 1: cfg.Changes registry changes spread evenly over the
// duration, each applied on its own, in turn: an extra instance added, a
// stable instance's weight changed, the extra instance removed, a side
// service added, the side service removed. The load goes to the service
// whose instances change.
func churn(ctx context.Context, r *runner) error {
	apps, err := r.startApps("churn", 4)
	if err != nil {
		return err
	}
	const svc = "churn"
	host, err := r.service(ctx, svc, apps[:2])
	if err != nil {
		return err
	}
	if err := r.startLoad(ctx, host); err != nil {
		return err
	}
	n, done := r.cfg.Changes, 0
	defer func() { r.events = fmt.Sprintf("%d changes", done) }()
	for i := 0; i < n; i++ {
		if err := r.at(ctx, i, n); err != nil {
			return err
		}
		k := i / 5
		extra, side := fmt.Sprintf("extra-%d", k), fmt.Sprintf("side-%d", k)
		var err error
		switch i % 5 {
		case 0:
			err = r.p.PutInstance(ctx, svc, extra, Instance{Port: apps[2+k%2].Port, Weight: 5 + k%20})
		case 1:
			err = r.p.PutInstance(ctx, svc, "i0", Instance{Port: apps[0].Port, Weight: 1 + k%30})
		case 2:
			err = r.p.DeleteInstance(ctx, svc, extra)
		case 3:
			err = r.p.PutService(ctx, side, Service{Hosts: []string{side + ".bench"}})
		case 4:
			err = r.p.DeleteService(ctx, side)
		}
		if err != nil {
			return fmt.Errorf("change %d: %w", i+1, err)
		}
		done++
	}
	err = r.p.Sync(ctx) // every change is served under load
	r.event()
	return err
}

// deploy is scenario 2: a rolling deploy of a 4-instance service with a
// health check, instance after instance: start the new backend, wait until
// the proxy finds it healthy, drain the old one, stop it gracefully. It
// goes on with the next round until the duration has passed, and replaces
// every instance at least once.
func deploy(ctx context.Context, r *runner) error {
	const svc = "deploy"
	host := svc + ".bench"
	if err := r.p.PutService(ctx, svc, Service{Hosts: []string{host}, Healthcheck: "/healthz",
		HealthInterval: r.cfg.Health}); err != nil {
		return err
	}
	slots, ids := make([]*App, 4), make([]string, 4)
	for i := range slots {
		ids[i] = fmt.Sprintf("i%d-v0", i)
		a, err := r.app("deploy-"+ids[i], 0)
		if err != nil {
			return err
		}
		if err := r.p.AddHealthy(ctx, svc, ids[i], Instance{Port: a.Port, Weight: 10}, a.HealthURL()); err != nil {
			return err
		}
		slots[i] = a
	}
	if err := r.startLoad(ctx, host); err != nil {
		return err
	}
	replaced := 0
	defer func() { r.events = fmt.Sprintf("%d replacements", replaced) }()
	for v := 1; ; v++ {
		for i := range slots {
			if replaced >= len(slots) && time.Since(r.start) >= r.cfg.Duration {
				return nil
			}
			id := fmt.Sprintf("i%d-v%d", i, v)
			a, err := r.app("deploy-"+id, r.cfg.ReadyAfter)
			if err != nil {
				return err
			}
			if err := r.p.AddHealthy(ctx, svc, id, Instance{Port: a.Port, Weight: 10}, a.HealthURL()); err != nil {
				return fmt.Errorf("replacement %d: %w", replaced+1, err)
			}
			if err := r.p.Drain(ctx, svc, ids[i]); err != nil {
				return fmt.Errorf("replacement %d: %w", replaced+1, err)
			}
			r.forget(slots[i])
			if err := slots[i].Stop(60 * time.Second); err != nil {
				return fmt.Errorf("replacement %d: %w", replaced+1, err)
			}
			slots[i], ids[i] = a, id
			replaced++
			r.event()
		}
	}
}

// kill is scenario 3: halfway through, one of four backends dies by
// SIGKILL and stays registered, as when a host or container dies before
// anyone deregisters it.
func kill(ctx context.Context, r *runner) error {
	apps, err := r.startApps("kill", 4)
	if err != nil {
		return err
	}
	host, err := r.service(ctx, "kill", apps)
	if err != nil {
		return err
	}
	if err := r.startLoad(ctx, host); err != nil {
		return err
	}
	if err := r.at(ctx, 1, 2); err != nil {
		return err
	}
	r.forget(apps[0])
	r.killAt = time.Now()
	apps[0].Kill()
	r.deadAt = time.Now()
	r.event()
	r.events = fmt.Sprintf("1 of 4 backends killed after %.1fs (gone %s after the signal)",
		r.killAt.Sub(r.start).Seconds(), r.deadAt.Sub(r.killAt).Round(100*time.Microsecond))
	return nil
}

// upgrade is scenario 4: cfg.Upgrades binary upgrades spread over the
// duration, each finished (old process exited) before the next.
func upgrade(ctx context.Context, r *runner) error {
	apps, err := r.startApps("upgrade", 2)
	if err != nil {
		return err
	}
	host, err := r.service(ctx, "upgrade", apps)
	if err != nil {
		return err
	}
	if err := r.startLoad(ctx, host); err != nil {
		return err
	}
	n, done := r.cfg.Upgrades, 0
	defer func() { r.events = fmt.Sprintf("%d upgrades", done) }()
	for k := 0; k < n; k++ {
		if err := r.at(ctx, k+1, n+1); err != nil {
			return err
		}
		if err := r.p.Upgrade(ctx); err != nil {
			return fmt.Errorf("upgrade %d: %w", k+1, err)
		}
		done++
		r.event()
	}
	return nil
}
