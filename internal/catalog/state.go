package catalog

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Entry is one service with its instances: the unit in which State records
// and publishes change. An Entry is immutable once a State holds it.
type Entry struct {
	Service   Service
	Instances []Instance // sorted by ID
}

// Instance returns the instance with the given id.
func (e *Entry) Instance(id string) (Instance, bool) {
	i, ok := e.find(id)
	if !ok {
		return Instance{}, false
	}
	return e.Instances[i], true
}

func (e *Entry) find(id string) (int, bool) {
	return sort.Find(len(e.Instances), func(i int) int { return strings.Compare(id, e.Instances[i].ID) })
}

// State is the desired state of one registry: every service and its
// instances, at a revision. It is safe for concurrent use.
//
// Writers (registry backends) validate input with NewService/NewInstance,
// check conflicts with CheckService, persist, then apply the change here;
// State itself never refuses a well-formed change, so that a registry that
// was written around webrouter's checks (etcdctl, say) is still mirrored
// faithfully. Consumers receive changes through Subscribe.
type State struct {
	mu      sync.RWMutex
	rev     uint64
	entries map[string]*Entry
	owners  map[string][]string // canonical mountpoint -> services claiming it
	certs   map[string]*Certificate
	feeds   []*Feed
}

// NewState returns an empty state at revision 0.
func NewState() *State {
	return &State{entries: map[string]*Entry{}, owners: map[string][]string{}, certs: map[string]*Certificate{}}
}

// Rev returns the revision of the last applied change.
func (s *State) Rev() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.rev
}

// Get returns the named service's entry.
func (s *State) Get(name string) (*Entry, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.entries[name]
	return e, ok
}

// List returns every entry, sorted by service name.
func (s *State) List() []*Entry {
	s.mu.RLock()
	out := make([]*Entry, 0, len(s.entries))
	for _, e := range s.entries {
		out = append(out, e)
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b *Entry) int { return strings.Compare(a.Service.Name, b.Service.Name) })
	return out
}

// Len returns the number of services.
func (s *State) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.entries)
}

// CheckService returns a *ConflictError if another service already claims
// one of svc's mountpoints.
func (s *State) CheckService(svc Service) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, m := range svc.Mountpoints {
		for _, owner := range s.owners[m] {
			if owner != svc.Name {
				return &ConflictError{Mountpoint: m, Owner: owner}
			}
		}
	}
	return nil
}

// PutService creates or replaces a service, keeping its instances. It
// reports whether the service is new.
func (s *State) PutService(rev uint64, svc Service) (created bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.entries[svc.Name]
	e := &Entry{Service: svc}
	if old != nil {
		e.Instances = old.Instances
	}
	s.set(svc.Name, e)
	s.advance(rev)
	return old == nil
}

// DeleteService removes a service and its instances; it reports whether the
// service existed.
func (s *State) DeleteService(rev uint64, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.entries[name]
	if ok {
		s.set(name, nil)
	}
	s.advance(rev)
	return ok
}

// PutInstance creates or replaces an instance of an existing service. It
// reports whether the instance is new; the error wraps ErrNotFound when
// the service does not exist.
func (s *State) PutInstance(rev uint64, service string, in Instance) (created bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.entries[service]
	if !ok {
		return false, fmt.Errorf("service %q: %w", service, ErrNotFound)
	}
	e := &Entry{Service: old.Service}
	i, found := old.find(in.ID)
	if found {
		e.Instances = slices.Clone(old.Instances)
		e.Instances[i] = in
	} else {
		e.Instances = slices.Insert(slices.Clip(old.Instances), i, in)
	}
	s.set(service, e)
	s.advance(rev)
	return !found, nil
}

// DeleteInstance removes an instance; it reports whether it existed.
func (s *State) DeleteInstance(rev uint64, service, id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.entries[service]
	if !ok {
		s.advance(rev)
		return false
	}
	i, found := old.find(id)
	if found {
		e := &Entry{Service: old.Service, Instances: slices.Delete(slices.Clone(old.Instances), i, i+1)}
		s.set(service, e)
	}
	s.advance(rev)
	return found
}

// Replace makes the state equal to entries (a full listing of a registry,
// e.g. at start-up or after a watch could not resume) and publishes only
// what differs.
func (s *State) Replace(rev uint64, entries []*Entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := make(map[string]*Entry, len(entries))
	for _, e := range entries {
		next[e.Service.Name] = e
	}
	for name, old := range s.entries {
		if _, ok := next[name]; !ok {
			s.set(name, nil)
		} else if equalEntry(old, next[name]) {
			delete(next, name)
		}
	}
	for name, e := range next {
		s.set(name, e)
	}
	s.advance(rev)
}

func equalEntry(a, b *Entry) bool {
	return a.Service.Equal(b.Service) && slices.Equal(a.Instances, b.Instances)
}

// set installs (or, for nil, removes) an entry, keeps the owner index and
// publishes the change. s.mu must be held.
func (s *State) set(name string, e *Entry) {
	if old := s.entries[name]; old != nil {
		for _, m := range old.Service.Mountpoints {
			owners := slices.DeleteFunc(slices.Clone(s.owners[m]), func(o string) bool { return o == name })
			if len(owners) == 0 {
				delete(s.owners, m)
			} else {
				s.owners[m] = owners
			}
		}
	}
	if e == nil {
		delete(s.entries, name)
	} else {
		s.entries[name] = e
		for _, m := range e.Service.Mountpoints {
			s.owners[m] = append(slices.Clip(s.owners[m]), name)
		}
	}
	for _, f := range s.feeds {
		f.change(name, e)
	}
}

// advance moves the revision forward (never back) and tells the feeds.
// s.mu must be held.
func (s *State) advance(rev uint64) {
	if rev > s.rev {
		s.rev = rev
	}
	for _, f := range s.feeds {
		f.advance(s.rev)
	}
}

// Subscribe returns a Feed that first delivers every current entry and
// certificate, then each change. A Feed has one consumer.
func (s *State) Subscribe() *Feed {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := newFeed()
	for name, e := range s.entries {
		f.change(name, e)
	}
	for name, c := range s.certs {
		f.changeCert(name, c)
	}
	f.advance(s.rev)
	s.feeds = append(s.feeds, f)
	return f
}

// Unsubscribe stops delivering changes to f.
func (s *State) Unsubscribe(f *Feed) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.feeds = slices.DeleteFunc(s.feeds, func(g *Feed) bool { return g == f })
}
