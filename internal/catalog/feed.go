package catalog

import "sync"

// Batch is what a Feed consumer takes at once: the latest entry of every
// service that changed since the last Take (nil for a deleted service), the
// latest version of every certificate that changed (nil for a deleted one),
// and the revision the state had reached.
type Batch struct {
	Rev          uint64
	Changes      map[string]*Entry
	Certificates map[string]*Certificate // nil when none changed
}

// Feed carries a State's changes to one consumer. Changes coalesce per
// service: a consumer that falls behind receives each changed service's
// latest entry, never a backlog, so memory is bounded by the number of
// services.
type Feed struct {
	mu      sync.Mutex
	rev     uint64
	taken   uint64 // rev at the last Take
	pending map[string]*Entry
	certs   map[string]*Certificate // nil until a certificate changes
	ready   chan struct{}           // holds one token while there is something to take
}

func newFeed() *Feed {
	return &Feed{pending: map[string]*Entry{}, ready: make(chan struct{}, 1)}
}

// Ready returns a channel that receives a value when there is something to
// Take. After a receive, call Take.
func (f *Feed) Ready() <-chan struct{} { return f.ready }

// Take returns and clears everything pending.
func (f *Feed) Take() Batch {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := Batch{Rev: f.rev, Changes: f.pending, Certificates: f.certs}
	f.pending = map[string]*Entry{}
	f.certs = nil
	f.taken = f.rev
	return b
}

func (f *Feed) change(name string, e *Entry) {
	f.mu.Lock()
	f.pending[name] = e
	f.mu.Unlock()
	f.poke()
}

func (f *Feed) changeCert(name string, c *Certificate) {
	f.mu.Lock()
	if f.certs == nil {
		f.certs = map[string]*Certificate{}
	}
	f.certs[name] = c
	f.mu.Unlock()
	f.poke()
}

func (f *Feed) advance(rev uint64) {
	f.mu.Lock()
	moved := rev > f.rev
	if moved {
		f.rev = rev
	}
	f.mu.Unlock()
	if moved {
		f.poke()
	}
}

func (f *Feed) poke() {
	select {
	case f.ready <- struct{}{}:
	default:
	}
}
