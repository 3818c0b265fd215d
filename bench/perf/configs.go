package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// peerConfig is what a peer's configuration is rendered from.
type peerConfig struct {
	dir     string // the peer's own directory: config, pid, temp paths
	port    int    // loopback port of its HTTP entry point
	workers int    // worker processes or threads: the cores it may use
	routes  routeSet
}

// nginxConfig follows nginx's own advice: one worker per core, keep-alive
// to upstreams (HTTP/1.1, empty Connection, a keepalive cache per
// upstream), a server_names hash sized for the host count, request bodies
// and responses buffered in memory (proxy_buffers hold a 256 KiB response:
// with the default 8 × 4k nginx spills it to a temporary file and spends
// three times the CPU), access log off, a deferred accept (TCP_DEFER_ACCEPT,
// as webrouter's HTTP entry point; its listen options go on the one
// default_server) with the listen backlog Go's listeners get (somaxconn;
// nginx's own default, 511, overflows when 1 000 connections send their
// first request at once, and a deferred accept queues them only then).
// Headers to the backend match what webrouter sends
// (Host, X-Forwarded-For, X-Real-IP, X-Forwarded-Proto).
func nginxConfig(c peerConfig) string {
	var b strings.Builder
	fmt.Fprintf(&b, `worker_processes %d;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log error;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path %[2]s/client_body;
  proxy_temp_path %[2]s/proxy;
  fastcgi_temp_path %[2]s/fastcgi;
  uwsgi_temp_path %[2]s/uwsgi;
  scgi_temp_path %[2]s/scgi;
  client_body_buffer_size 64k;
  server_names_hash_max_size 65536;
  server_names_hash_bucket_size 128;
  proxy_http_version 1.1;
  proxy_buffers 64 8k;
  proxy_set_header Connection "";
  proxy_set_header Host $host;
  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
  proxy_set_header X-Real-IP $remote_addr;
  proxy_set_header X-Forwarded-Proto $scheme;
  server { listen 127.0.0.1:%[3]d default_server deferred backlog=%[4]d; return 404; }
`, c.workers, c.dir, c.port, somaxconn())
	for _, s := range c.routes.services {
		fmt.Fprintf(&b, "  upstream %s {\n", s.name)
		for _, p := range s.ports {
			fmt.Fprintf(&b, "    server 127.0.0.1:%d;\n", p)
		}
		fmt.Fprintf(&b, "    keepalive %d;\n  }\n", keepalive(c.routes))
		fmt.Fprintf(&b, "  server { listen 127.0.0.1:%d; server_name %s; location / { proxy_pass http://%s; } }\n",
			c.port, s.host, s.name)
	}
	b.WriteString("}\n")
	return b.String()
}

// keepalive is the idle upstream connections each nginx upstream caches
// per worker: enough for every client connection when there is one
// service, a few per service when there are thousands.
func keepalive(rs routeSet) int {
	if len(rs.services) == 1 {
		return 1024
	}
	return 16
}

// haproxyConfig follows HAProxy's advice: nbthread = cores, HTTP mode with
// keep-alive both ways and connection reuse to servers (the default
// http-reuse safe), Host routing through a map file, no log, defer-accept
// on the bind (TCP_DEFER_ACCEPT, which HAProxy's manual suggests for
// protocols whose client speaks first, as webrouter's HTTP entry point
// uses).
func haproxyConfig(c peerConfig) (cfg, hostMap string) {
	var b, m strings.Builder
	fmt.Fprintf(&b, `global
  nbthread %d
  maxconn 8000
defaults
  mode http
  option forwardfor
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 60s
frontend fe
  bind 127.0.0.1:%d defer-accept
  use_backend %%[req.hdr(host),lower,word(1,:),map(%s/hosts.map,none)]
backend none
  http-request return status 404
`, c.workers, c.port, c.dir)
	for _, s := range c.routes.services {
		fmt.Fprintf(&m, "%s %s\n", s.host, s.name)
		fmt.Fprintf(&b, "backend %s\n  balance roundrobin\n", s.name)
		for i, p := range s.ports {
			fmt.Fprintf(&b, "  server s%d 127.0.0.1:%d\n", i, p)
		}
	}
	return b.String(), m.String()
}

// caddyConfig is a Caddyfile: admin endpoint and automatic HTTPS off, one
// site block per service bound to loopback, reverse_proxy with round robin
// and keep-alive to upstreams (Caddy's default, its idle pool raised from 32
// to webrouter's 256 per upstream), no log directive (access logs are off
// unless asked for). Worker count is GOMAXPROCS, set by the
// caller.
func caddyConfig(c peerConfig) string {
	var b strings.Builder
	b.WriteString("{\n  admin off\n  auto_https off\n}\n")
	for _, s := range c.routes.services {
		fmt.Fprintf(&b, "http://%s:%d {\n  bind 127.0.0.1\n  reverse_proxy", s.host, c.port)
		for _, p := range s.ports {
			fmt.Fprintf(&b, " 127.0.0.1:%d", p)
		}
		b.WriteString(" {\n    lb_policy round_robin\n    transport http {\n      keepalive_idle_conns_per_host 256\n    }\n  }\n}\n")
	}
	return b.String()
}

// writeFiles writes name → content into dir.
func writeFiles(dir string, files map[string]string) error {
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// somaxconn is the listen backlog Go's net package gives its listeners
// (and so webrouter's): the kernel's limit, /proc/sys/net/core/somaxconn;
// 4096 (the kernel's default since 5.4) when it cannot be read.
func somaxconn() int {
	b, err := os.ReadFile("/proc/sys/net/core/somaxconn")
	if err != nil {
		return 4096
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n <= 0 {
		return 4096
	}
	return n
}
