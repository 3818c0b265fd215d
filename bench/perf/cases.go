package main

import (
	"fmt"
	"strings"
)

// benchCase is one load shape of the throughput benchmark.
type benchCase struct {
	name    string
	conns   int    // wrk connections
	method  string // GET or POST
	size    int    // response body bytes
	payload int    // request body bytes (POST)
	close   bool   // Connection: close on every request
	many    bool   // many-routes: the large route set, Host spread over many hosts
	delay   string // the backend holds each answer back this long (?delay=)
	extra   bool   // not one of issue 7's cases (slow)
}

// issue reports whether c is one of issue 7's cases, which its goals are
// for.
func (c benchCase) issue() bool { return !c.extra }

// path is the request path: the backend answers with size bytes.
func (c benchCase) path() string {
	if c.delay != "" {
		return fmt.Sprintf("/bytes/%d?delay=%s", c.size, c.delay)
	}
	return fmt.Sprintf("/bytes/%d", c.size)
}

// describe is the load column of the results table.
func (c benchCase) describe(o options) string {
	s := fmt.Sprintf("%s, %s response, %d conns", c.method, sizeText(c.size), c.conns)
	switch {
	case c.close:
		s += ", Connection: close"
	case c.payload > 0:
		s += fmt.Sprintf(", %s request body", sizeText(c.payload))
	case c.many:
		s += fmt.Sprintf(", %d services / %d instances, %d hosts", o.services, o.services*o.perService, o.hosts)
	case c.delay != "":
		s += fmt.Sprintf(", the backend answers after %s", c.delay)
	}
	return s
}

func sizeText(n int) string {
	if n%1024 == 0 {
		return fmt.Sprintf("%d KiB", n/1024)
	}
	return fmt.Sprintf("%d B", n)
}

// allCases are the throughput cases of issue 7, in report order, and
// slow: a backend that takes 200 ms, as many an application does, where
// what a proxy spends on a request that waits long shows (in the CPU per
// request column: req/s is the closed loop's 2000 ÷ 200 ms for all).
func allCases() []benchCase {
	return []benchCase{
		{name: "small", conns: 64, method: "GET", size: 1 << 10},
		{name: "many-conns", conns: 1000, method: "GET", size: 1 << 10},
		{name: "large", conns: 16, method: "GET", size: 256 << 10},
		{name: "new-conn", conns: 32, method: "GET", size: 1 << 10, close: true},
		{name: "post", conns: 32, method: "POST", size: 1 << 10, payload: 16 << 10},
		{name: "many-routes", conns: 64, method: "GET", size: 1 << 10, many: true},
		{name: "slow", conns: 2000, method: "GET", size: 1 << 10, delay: "200ms", extra: true},
	}
}

// controlCases are the cases that measure webrouter alone.
var controlCases = []string{"scale", "micro", "instr", "misses"}

// selectCases splits a comma-separated list into throughput cases and
// control-plane cases, rejecting unknown names.
func selectCases(list string) ([]benchCase, []string, error) {
	byName := map[string]benchCase{}
	var names []string
	for _, c := range allCases() {
		byName[c.name] = c
		names = append(names, c.name)
	}
	var cases []benchCase
	var control []string
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		if c, ok := byName[n]; ok {
			cases = append(cases, c)
			continue
		}
		if contains(controlCases, n) {
			control = append(control, n)
			continue
		}
		return nil, nil, fmt.Errorf("unknown case %q; cases are %s", n, strings.Join(append(names, controlCases...), ","))
	}
	return cases, control, nil
}

// instrCase is the throughput case named for the instr case's load ("":
// small): any but many-routes, whose route set the instr case does not
// load.
func instrCase(name string) (benchCase, error) {
	if name == "" {
		name = "small"
	}
	for _, c := range allCases() {
		if c.name == name && !c.many {
			return c, nil
		}
	}
	return benchCase{}, fmt.Errorf("-instr-load %q: not a throughput case the instr case can run (many-routes is not)", name)
}

// service is one routed service as every proxy is configured with it.
type service struct {
	name  string // webrouter service name, nginx/HAProxy upstream name
	host  string // the Host it is routed by
	ports []int  // backend ports of its instances (all on 127.0.0.1)
}

// routeSet is the routing configuration loaded into every proxy for a case.
type routeSet struct {
	name     string // "basic" or "many"
	services []service
	hosts    []string // the Hosts wrk spreads requests over
}

// basicRoutes is one service, bench.local, with an instance on each of the
// first four backend ports.
func basicRoutes(ports []int) routeSet {
	n := min(4, len(ports))
	return routeSet{name: "basic", services: []service{{name: "bench", host: "bench.local", ports: ports[:n]}},
		hosts: []string{"bench.local"}}
}

// manyRoutes is services services of perService instances each, spread
// over the backend ports; requests go to hosts of them, evenly spaced
// through the table.
func manyRoutes(ports []int, services, perService, hosts int) routeSet {
	rs := routeSet{name: "many"}
	k := 0
	for i := 0; i < services; i++ {
		s := service{name: fmt.Sprintf("svc-%d", i), host: fmt.Sprintf("svc-%d.bench.local", i)}
		for j := 0; j < perService; j++ {
			s.ports = append(s.ports, ports[k%len(ports)])
			k++
		}
		rs.services = append(rs.services, s)
	}
	hosts = min(hosts, services)
	for i := 0; i < hosts; i++ {
		rs.hosts = append(rs.hosts, rs.services[i*services/hosts].host)
	}
	return rs
}

// instances counts the instances of a route set.
func (rs routeSet) instances() int {
	n := 0
	for _, s := range rs.services {
		n += len(s.ports)
	}
	return n
}
