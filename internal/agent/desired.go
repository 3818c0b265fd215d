package agent

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
)

// Desired is what the agent would register for the containers running
// now: the dry run of `webrouter agent --once`.
type Desired struct {
	Registrations []Registration `json:"registrations"` // sorted by service, then id
	Problems      []*Problem     `json:"problems"`      // containers that should be registered but cannot be, sorted by name
}

// ListDesired lists the engine's containers and computes their
// registrations with o. It writes nothing.
func ListDesired(ctx context.Context, engine Engine, o Options) (Desired, error) {
	cs, err := engine.List(ctx)
	if err != nil {
		return Desired{}, err
	}
	d := Desired{Registrations: []Registration{}, Problems: []*Problem{}}
	for _, c := range cs {
		regs, err := Registrations(c, o)
		var p *Problem
		if errors.As(err, &p) {
			d.Problems = append(d.Problems, p)
			continue
		}
		d.Registrations = append(d.Registrations, regs...)
	}
	slices.SortFunc(d.Registrations, func(a, b Registration) int {
		return cmp.Or(strings.Compare(a.Service, b.Service), strings.Compare(a.ID, b.ID))
	})
	slices.SortFunc(d.Problems, func(a, b *Problem) int { return strings.Compare(a.Name, b.Name) })
	return d, nil
}
