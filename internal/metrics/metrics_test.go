package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestDeletedServicesLeaveTheScrape checks that a service's series go once
// it no longer exists, and that those of the others stay with their counts.
func TestDeletedServicesLeaveTheScrape(t *testing.T) {
	var mu sync.Mutex
	services := []string{"shop", "blog"}
	m := New(Options{Services: func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), services...)
	}})
	m.ObserveRequest("shop", 200, time.Millisecond)
	m.ObserveRequest("shop", 200, time.Millisecond)
	m.ObserveRequest("blog", 503, 0)
	m.ObserveRequest("", 404, 0) // no route
	scrape := func() string {
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		b, _ := io.ReadAll(rec.Body)
		return string(b)
	}
	out := scrape()
	for _, want := range []string{`webrouter_requests_total{code="2xx",service="shop"} 2`, `webrouter_requests_total{code="5xx",service="blog"} 1`,
		`webrouter_upstream_duration_seconds_count{service="shop"} 2`} {
		if !strings.Contains(out, want) {
			t.Fatalf("before the delete, no %s in:\n%s", want, out)
		}
	}

	mu.Lock()
	services = []string{"shop"} // blog deleted
	mu.Unlock()
	out = scrape()
	if strings.Contains(out, `service="blog"`) {
		t.Fatalf("the deleted service's series are still scraped:\n%s", grep(out, "blog"))
	}
	if !strings.Contains(out, `webrouter_requests_total{code="2xx",service="shop"} 2`) ||
		!strings.Contains(out, `webrouter_requests_total{code="4xx",service=""} 1`) {
		t.Fatalf("the remaining service or the unrouted requests lost their series:\n%s", grep(out, "webrouter_requests_total"))
	}
	// A service created again under the same name starts from zero.
	mu.Lock()
	services = []string{"shop", "blog"}
	mu.Unlock()
	m.ObserveRequest("blog", 200, time.Millisecond)
	if out = scrape(); !strings.Contains(out, `webrouter_requests_total{code="2xx",service="blog"} 1`) ||
		strings.Contains(out, `webrouter_requests_total{code="5xx",service="blog"} 1`) {
		t.Fatalf("the recreated service:\n%s", grep(out, "blog"))
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestServiceObserver: a service's observer counts into the series
// ObserveRequest counts into; once the service is deleted, an observer
// kept from before (an old route table's) counts into nothing scraped,
// and does not bring the series back.
func TestServiceObserver(t *testing.T) {
	var mu sync.Mutex
	services := []string{"shop"}
	m := New(Options{Services: func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), services...)
	}})
	scrape := func() string {
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		b, _ := io.ReadAll(rec.Body)
		return string(b)
	}
	o := m.ServiceObserver("shop")
	o.Observe(200, time.Millisecond)
	m.ObserveRequest("shop", 200, time.Millisecond)
	o.Observe(502, 0)
	out := scrape()
	for _, want := range []string{`webrouter_requests_total{code="2xx",service="shop"} 2`, `webrouter_requests_total{code="5xx",service="shop"} 1`,
		`webrouter_upstream_duration_seconds_count{service="shop"} 2`} {
		if !strings.Contains(out, want) {
			t.Fatalf("no %s in:\n%s", want, grep(out, "shop"))
		}
	}
	mu.Lock()
	services = nil
	mu.Unlock()
	scrape() // prunes shop
	o.Observe(200, time.Millisecond)
	if out = scrape(); strings.Contains(out, `service="shop"`) {
		t.Fatalf("an old observer brought the deleted service back:\n%s", grep(out, "shop"))
	}
}
