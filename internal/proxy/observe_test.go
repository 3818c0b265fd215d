package proxy

import (
	"testing"
	"time"

	"github.com/webrouter/webrouter/internal/metrics"
	"github.com/webrouter/webrouter/internal/route"
)

// The router's metrics hand out service observers: the proxy keeps them.
var _ serviceObserver = (*metrics.Metrics)(nil)

// countingObserver counts what it is told, by service; with handOut it
// also hands out service observers (serviceObserver), counting how many.
type countingObserver struct {
	byName   map[string]int // ObserveRequest calls
	observed map[string]int // calls of handed-out observers
	handed   map[string]int // ServiceObserver calls
}

func newCountingObserver() *countingObserver {
	return &countingObserver{byName: map[string]int{}, observed: map[string]int{}, handed: map[string]int{}}
}

func (o *countingObserver) ObserveRequest(service string, status int, upstream time.Duration) {
	o.byName[service]++
}

type handingObserver struct{ *countingObserver }

func (o handingObserver) ServiceObserver(service string) interface {
	Observe(status int, upstream time.Duration)
} {
	o.handed[service]++
	return serviceCount{o.countingObserver, service}
}

type serviceCount struct {
	o       *countingObserver
	service string
}

func (s serviceCount) Observe(status int, upstream time.Duration) { s.o.observed[s.service]++ }

// TestObserve: with an Observer that hands out service observers, the
// proxy asks once per service of a table and counts each request through
// it; a second proxy sharing the table (the slot is the first's) asks on
// each request and still counts each; requests no route took, and an
// Observer that hands nothing out, go by name.
func TestObserve(t *testing.T) {
	shop, blog := &route.Service{Name: "shop"}, &route.Service{Name: "blog"}
	o := newCountingObserver()
	p1 := New(Options{Observer: handingObserver{o}})
	p2 := New(Options{Observer: handingObserver{o}})
	for range 3 {
		p1.observe(shop, "shop", 200, time.Millisecond)
		p1.observe(blog, "blog", 200, time.Millisecond)
		p2.observe(shop, "shop", 200, time.Millisecond)
	}
	p1.observe(nil, "", 404, 0)
	if o.handed["shop"] != 1+3 || o.handed["blog"] != 1 {
		t.Errorf("service observers handed out: %v, want shop 1 (p1) + 3 (p2), blog 1", o.handed)
	}
	if o.observed["shop"] != 6 || o.observed["blog"] != 3 || o.byName[""] != 1 || o.byName["shop"] != 0 {
		t.Errorf("counted %v through service observers, %v by name", o.observed, o.byName)
	}
	// A table's new service objects (the next table) ask again.
	p1.observe(&route.Service{Name: "shop"}, "shop", 200, 0)
	if o.handed["shop"] != 5 {
		t.Errorf("a new table's service did not ask: %v", o.handed)
	}

	plain := newCountingObserver()
	p3 := New(Options{Observer: plain})
	p3.observe(shop, "shop", 200, 0)
	p3.observe(shop, "shop", 200, 0)
	if plain.byName["shop"] != 2 {
		t.Errorf("a plain Observer counted %v", plain.byName)
	}
}
