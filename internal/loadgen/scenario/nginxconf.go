package scenario

import (
	"fmt"
	"sort"
	"strings"
)

// nginxState is the desired state the nginx stack renders: services with
// their instances, as a registry watcher would hold them.
type nginxState struct {
	services map[string]*nginxService
}

type nginxService struct {
	Service
	instances map[string]Instance
}

func newNginxState() *nginxState { return &nginxState{services: map[string]*nginxService{}} }

// nginxConf is everything one rendering of nginx.conf depends on.
type nginxConf struct {
	prefix     string // directory for the pid file, logs and temp files; absolute, no trailing slash
	httpPort   int    // the entry point, on 127.0.0.1
	ctlPort    int    // answers GET /generation with generation, so a caller can tell a reload is served
	generation int
	state      *nginxState
}

// render writes nginx.conf: the seeds' stack, tuned the way a production
// deployment would be (keep-alive to the backends, WebSocket upgrade, no
// access log). A service becomes an upstream and a server block; an
// instance with no weight left, or a service with no instance, leaves the
// upstream with a single down server, so nginx answers 502.
func (c nginxConf) render() string {
	var b strings.Builder
	p := c.prefix
	fmt.Fprintf(&b, `# Rendered by internal/loadgen/scenario, generation %d.
daemon on;  # the binary upgrade (USR2) needs it: nginx ignores USR2 while its parent lives
master_process on;
worker_processes auto;
pid %s/nginx.pid;
error_log %s/error.log warn;

events {
    worker_connections 8192;
}

http {
    access_log off;
    client_body_temp_path %s/tmp/body;
    proxy_temp_path %s/tmp/proxy;
    fastcgi_temp_path %s/tmp/fastcgi;
    uwsgi_temp_path %s/tmp/uwsgi;
    scgi_temp_path %s/tmp/scgi;

    map $http_upgrade $connection_upgrade {
        default upgrade;
        ''      '';
    }

    server {
        listen 127.0.0.1:%d default_server;
        return 404;
    }

    server {
        listen 127.0.0.1:%d;
        location = /generation {
            return 200 "%d\n";
        }
    }
`, c.generation, p, p, p, p, p, p, p, c.httpPort, c.ctlPort, c.generation)
	names := make([]string, 0, len(c.state.services))
	for name := range c.state.services {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		s := c.state.services[name]
		up := upstreamName(name)
		fmt.Fprintf(&b, "\n    upstream %s {\n", up)
		ids := make([]string, 0, len(s.instances))
		for id, in := range s.instances {
			if in.Weight > 0 {
				ids = append(ids, id)
			}
		}
		sort.Strings(ids)
		for _, id := range ids {
			in := s.instances[id]
			fmt.Fprintf(&b, "        server 127.0.0.1:%d weight=%d;  # %s\n", in.Port, in.Weight, id)
		}
		if len(ids) == 0 {
			b.WriteString("        server 127.0.0.1:1 down;  # no instance\n")
		}
		b.WriteString("        keepalive 256;\n    }\n")
		fmt.Fprintf(&b, `
    server {
        listen 127.0.0.1:%d;
        server_name %s;
        location / {
            proxy_pass http://%s;
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 1h;
        }
    }
`, c.httpPort, strings.Join(s.Hosts, " "), up)
	}
	b.WriteString("}\n")
	return b.String()
}

// upstreamName is a service name made safe for an nginx upstream name.
func upstreamName(service string) string {
	return "svc_" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			return r
		}
		return '_'
	}, service)
}
