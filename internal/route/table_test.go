package route

import (
	"fmt"
	"testing"
)

func testTable() *Table {
	routes := []Route{
		{Host: "demo.lain.local", Slot: 0},
		{Host: "*.demo.com", Slot: 1},
		{Host: "lain.demo.com", Path: "/hello", Slot: 2},
		{Host: "lain.demo.com", Path: "/hello/deeper", Slot: 3},
		{Host: "*.a.demo.com", Slot: 4},
		{Host: "exact.demo.com", Path: "/only", Slot: 5},
	}
	svcs := make([]*Service, 6)
	for i := range svcs {
		svcs[i] = &Service{Name: fmt.Sprint("s", i)}
	}
	return New(1, 1, NewIndex(routes), svcs, nil)
}

func TestLookup(t *testing.T) {
	tbl := testTable()
	tests := []struct {
		host, path string
		want       string // service name, "" for no route
		wantPath   string
	}{
		{"demo.lain.local", "/", "s0", ""},
		{"DEMO.Lain.Local:8080", "/x", "s0", ""},
		{"demo.lain.local.", "/x", "s0", ""},
		{"other.lain.local", "/", "", ""},
		{"x.demo.com", "/", "s1", ""},
		{"x.y.demo.com", "/", "s1", ""},
		{"demo.com", "/", "", ""},
		{"b.a.demo.com", "/", "s4", ""}, // longest wildcard suffix wins
		{"lain.demo.com", "/hello", "s2", "/hello"},
		{"lain.demo.com", "/hello/", "s2", "/hello"},
		{"lain.demo.com", "/hello/x", "s2", "/hello"},
		{"lain.demo.com", "/hello/deeper/x", "s3", "/hello/deeper"},
		{"lain.demo.com", "/helloworld", "s1", ""}, // not a segment match: falls to the wildcard
		{"lain.demo.com", "/", "s1", ""},
		{"exact.demo.com", "/only/1", "s5", "/only"},
		{"exact.demo.com", "/other", "s1", ""}, // exact host without a matching path: wildcard next
		{"[::1]:80", "/", "", ""},
		{"", "/", "", ""},
	}
	for _, tt := range tests {
		r, s := tbl.Lookup(tt.host, tt.path)
		got := ""
		if s != nil {
			got = s.Name
		}
		if got != tt.want {
			t.Errorf("Lookup(%q, %q) = %q, want %q", tt.host, tt.path, got, tt.want)
			continue
		}
		if r != nil && r.Path != tt.wantPath {
			t.Errorf("Lookup(%q, %q) route path = %q, want %q", tt.host, tt.path, r.Path, tt.wantPath)
		}
	}
}

func TestStripPrefix(t *testing.T) {
	tests := []struct{ prefix, path, want string }{
		{"/hello", "/hello", "/"},
		{"/hello", "/hello/", "/"},
		{"/hello", "/hello/x/y", "/x/y"},
	}
	for _, tt := range tests {
		if got := StripPrefix(tt.prefix, tt.path); got != tt.want {
			t.Errorf("StripPrefix(%q, %q) = %q, want %q", tt.prefix, tt.path, got, tt.want)
		}
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	tbl := testTable()
	allocs := testing.AllocsPerRun(1000, func() {
		tbl.Lookup("x.y.demo.com:8080", "/a/b")
		tbl.Lookup("lain.demo.com", "/hello/deeper/x")
	})
	if allocs != 0 {
		t.Errorf("Lookup allocates %.1f times per call", allocs)
	}
}

func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{10, 1000, 100000} {
		routes := make([]Route, 0, n)
		svcs := make([]*Service, n)
		for i := 0; i < n; i++ {
			routes = append(routes, Route{Host: fmt.Sprintf("svc%d.demo.com", i), Path: "/api", Slot: i})
			svcs[i] = &Service{Name: fmt.Sprint(i)}
		}
		tbl := New(1, 1, NewIndex(routes), svcs, nil)
		hosts := make([]string, 64)
		for i := range hosts {
			hosts[i] = fmt.Sprintf("svc%d.demo.com:8080", (i*7919)%n)
		}
		b.Run(fmt.Sprintf("%droutes", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, s := tbl.Lookup(hosts[i&63], "/api/v1/items"); s == nil {
					b.Fatal("no match")
				}
			}
		})
	}
}
