package upstream

import "time"

// Target is one instance of one service as one table generation sees it.
// Its fields are immutable; runtime state is in the shared Host.
type Target struct {
	ID       string // instance id
	Addr     string // "ip:port", the Host's key
	Weight   int    // 0 = no new traffic
	State    string // administrative state: "ready", "draining", "maintenance"
	Ready    bool   // State is "ready"
	Check    *Check // the probe its service wants for the address, or nil
	Host     *Host
	Endpoint *Endpoint
}

// Usable reports whether the target may take a new request at now: ready,
// with weight, and up by both passive and active health.
func (t *Target) Usable(now time.Time) bool {
	return t.Ready && t.Weight > 0 && t.Host.Up(now)
}
