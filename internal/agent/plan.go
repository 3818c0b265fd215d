package agent

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/webrouter/webrouter/internal/catalog"
)

// Current is an instance this agent owns in the registry, as the agent
// knows it.
type Current struct {
	Service  string
	Instance catalog.Instance
	// Wrote is the state this agent last wrote for the instance; "" when it
	// does not know (the instance was found in the registry, e.g. after a
	// restart of the agent).
	Wrote catalog.InstanceState
	// Removing is set while the agent drains and deletes the instance.
	Removing bool
}

// Key returns the instance's service and id.
func (c Current) Key() Key { return Key{c.Service, c.Instance.ID} }

// Action is what a Step does.
type Action int

// Actions of a plan.
const (
	// Put registers the instance (or replaces it, when its address, port,
	// weight, lease or owner changed) in State, with the agent's lease.
	Put Action = iota
	// SetState changes only the instance's state to State.
	SetState
	// Remove drains the instance, waits for its requests in flight (within
	// a bound), then deletes it.
	Remove
)

func (a Action) String() string {
	switch a {
	case Put:
		return "put"
	case SetState:
		return "set-state"
	case Remove:
		return "remove"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// Step is one write of a plan.
type Step struct {
	Action Action
	Key    Key
	Reg    Registration          // for Put: what to register
	State  catalog.InstanceState // for Put and SetState
}

func (s Step) String() string {
	if s.Action == Remove {
		return fmt.Sprintf("remove %s/%s", s.Key.Service, s.Key.ID)
	}
	return fmt.Sprintf("%s %s/%s %s", s.Action, s.Key.Service, s.Key.ID, s.State)
}

// Plan returns the writes that make the registry hold want, given that it
// holds have (the instances this agent owns, for the containers in
// question). Its rules:
//
//   - A wanted instance that is missing is put if it is Ready, and not
//     created otherwise (a container is not registered before its health
//     check passes).
//   - A wanted instance that exists is put again if its address, port,
//     weight, lease (ttl) or owner differ, and otherwise only its state is
//     corrected. Its state is draining when the registration is not Ready,
//     else ready — except that maintenance is never changed (an operator's
//     decision), and a draining the agent did not write itself (an
//     operator's `instance drain`, Current.Wrote known and not draining) is
//     kept.
//   - An instance that is not wanted is removed.
//   - Instances being removed get no step; the agent looks at them again
//     once the removal is over.
//
// Steps come in a stable order: removals first, then by service and id.
func Plan(want []Registration, have []Current, ttl time.Duration, owner string) []Step {
	wanted := make(map[Key]Registration, len(want))
	for _, r := range want {
		wanted[r.Key()] = r
	}
	held := make(map[Key]Current, len(have))
	var steps []Step
	for _, h := range have {
		held[h.Key()] = h
		if _, ok := wanted[h.Key()]; !ok && !h.Removing {
			steps = append(steps, Step{Action: Remove, Key: h.Key()})
		}
	}
	for _, r := range want {
		h, ok := held[r.Key()]
		switch {
		case !ok && r.Ready:
			steps = append(steps, Step{Action: Put, Key: r.Key(), Reg: r, State: catalog.Ready})
		case !ok || h.Removing:
		default:
			state := targetState(r, h)
			if differs(r, h.Instance, ttl, owner) {
				steps = append(steps, Step{Action: Put, Key: r.Key(), Reg: r, State: state})
			} else if state != h.Instance.State {
				steps = append(steps, Step{Action: SetState, Key: r.Key(), Reg: r, State: state})
			}
		}
	}
	slices.SortStableFunc(steps, func(a, b Step) int {
		return cmp.Or(cmp.Compare(removeFirst(a), removeFirst(b)),
			strings.Compare(a.Key.Service, b.Key.Service), strings.Compare(a.Key.ID, b.Key.ID))
	})
	return steps
}

// removeFirst orders removals before every other step.
func removeFirst(s Step) int {
	if s.Action == Remove {
		return 0
	}
	return 1
}

// targetState is the state an existing instance should have (see Plan).
func targetState(r Registration, h Current) catalog.InstanceState {
	cur := h.Instance.State
	switch {
	case cur == catalog.Maintenance:
		return catalog.Maintenance
	case !r.Ready:
		return catalog.Draining
	case cur == catalog.Draining && h.Wrote != "" && h.Wrote != catalog.Draining:
		return catalog.Draining // drained by someone else: theirs to undo
	}
	return catalog.Ready
}

// differs reports whether the stored instance in must be written again for
// r: anything but its state differs from what the agent would write.
func differs(r Registration, in catalog.Instance, ttl time.Duration, owner string) bool {
	return in.Address != r.Address || in.Port != r.Port || in.Weight != r.Weight ||
		time.Duration(in.TTL) != ttl || in.Owner != owner
}

// Spec is the instance document the agent writes for r.
func Spec(r Registration, state catalog.InstanceState, ttl time.Duration, owner string) catalog.InstanceSpec {
	w := r.Weight
	spec := catalog.InstanceSpec{Address: r.Address, Port: r.Port, Weight: &w, State: state, Owner: owner}
	if ttl > 0 {
		spec.TTL = ttl.String()
	}
	return spec
}

// ServiceDef is what the labels of the containers of one service say about
// the service itself.
type ServiceDef struct {
	Mountpoints []string // canonical; nil means "leave them as they are"
	Healthcheck string   // "" means "leave it as it is"
	From        string   // the container whose labels these are
}

// ServiceDefs collects, per service, the settings the wanted registrations'
// labels give (registrations without such labels say nothing). When the
// containers of one service disagree, the container with the smallest name
// wins, and a warning says so.
func ServiceDefs(want []Registration) (map[string]ServiceDef, []string) {
	defs := map[string]ServiceDef{}
	var warnings []string
	sorted := slices.Clone(want)
	slices.SortFunc(sorted, func(a, b Registration) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.ID, b.ID))
	})
	for _, r := range sorted {
		if len(r.Mountpoints) == 0 && r.Healthcheck == "" {
			continue
		}
		d := ServiceDef{Mountpoints: r.Mountpoints, Healthcheck: r.Healthcheck, From: r.Name}
		old, ok := defs[r.Service]
		if !ok {
			defs[r.Service] = d
			continue
		}
		if !slices.Equal(old.Mountpoints, d.Mountpoints) || old.Healthcheck != d.Healthcheck {
			warnings = append(warnings, fmt.Sprintf("containers %s and %s label service %s differently; using the labels of %s",
				old.From, d.From, r.Service, old.From))
		}
	}
	return defs, warnings
}

// ServiceUpdate returns the service document to write so that existing
// (nil when the service does not exist) follows d, and whether a write is
// needed. Settings the labels do not give keep their stored values. A
// missing service can only be created when d has mountpoints.
func ServiceUpdate(name string, d ServiceDef, existing *catalog.Service) (catalog.ServiceSpec, bool, error) {
	if existing == nil {
		if len(d.Mountpoints) == 0 {
			return catalog.ServiceSpec{}, false, fmt.Errorf("service %s %w, and the labels of %s give no %s to create it with",
				name, catalog.ErrNotFound, d.From, LabelMountpoints)
		}
		return catalog.ServiceSpec{Mountpoints: d.Mountpoints, Healthcheck: d.Healthcheck}, true, nil
	}
	spec := specOf(*existing)
	if d.Mountpoints != nil {
		spec.Mountpoints = d.Mountpoints
	}
	if d.Healthcheck != "" {
		spec.Healthcheck = d.Healthcheck
	}
	want, err := catalog.NewService(name, spec)
	if err != nil {
		return spec, false, fmt.Errorf("labels of %s for service %s: %w", d.From, name, err)
	}
	return spec, !want.Equal(*existing), nil
}

// specOf is the document that writes svc back unchanged.
func specOf(svc catalog.Service) catalog.ServiceSpec {
	spec := catalog.ServiceSpec{
		Mountpoints: slices.Clone(svc.Mountpoints), Healthcheck: svc.Healthcheck, HTTPSOnly: svc.HTTPSOnly,
		Balance: svc.Balance, StripPrefix: &svc.StripPrefix, MaxFails: &svc.MaxFails,
		FailTimeout: svc.FailTimeout.String(), HealthStatus: svc.HealthStatus,
	}
	if svc.Healthcheck != "" {
		spec.HealthInterval, spec.HealthTimeout = svc.HealthInterval.String(), svc.HealthTimeout.String()
		spec.HealthRise, spec.HealthFall = &svc.HealthRise, &svc.HealthFall
	}
	return spec
}
