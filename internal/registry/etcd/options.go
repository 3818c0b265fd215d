package etcd

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"
)

// DefaultPrefix is the key prefix when the --registry URL names none.
const DefaultPrefix = "/webrouter"

// Options configures Open. Endpoints is required; zero durations take the
// defaults shown.
type Options struct {
	Endpoints []string // "host:port" of etcd members
	Prefix    string   // key prefix, e.g. "/webrouter"; "" means DefaultPrefix

	CACert, Cert, Key string // PEM files; TLS is used when any is set
	User, Password    string // etcd authentication; Password is never logged

	// DataDir holds the snapshot of the last registry state (SnapshotFile);
	// "" disables the snapshot.
	DataDir string

	Logger     *slog.Logger                // nil discards
	OnBadEntry func(key string, err error) // each bad value, once per revision of its key
	// OnDegraded, if set, is called with true or false at each change of
	// Status (from the prober's goroutine; it must not block).
	OnDegraded func(bool)

	StartTimeout   time.Duration // how long Open waits for etcd before serving from the snapshot; 3s
	WriteTimeout   time.Duration // bounds each write, retries included; 5s
	AttemptTimeout time.Duration // bounds one attempt of a write; 1.5s
	ProbeInterval  time.Duration // how often reachability is checked; 500ms
	ProbeTimeout   time.Duration // how long one check may take; 1s
	// DegradeAfter is how long checks must fail before the store is
	// degraded, so that a leader election (about two election timeouts)
	// does not refuse writes; 3s.
	DegradeAfter  time.Duration
	SnapshotDelay time.Duration // debounce of snapshot writes; 500ms

	// ListPage is how many keys one range request of a full listing reads
	// (the listing is paginated at one revision, as etcd advises for large
	// ranges); 10 000.
	ListPage int
}

func (o *Options) defaults() {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.StartTimeout, 3*time.Second)
	def(&o.WriteTimeout, 5*time.Second)
	def(&o.AttemptTimeout, 1500*time.Millisecond)
	def(&o.ProbeInterval, 500*time.Millisecond)
	def(&o.ProbeTimeout, time.Second)
	def(&o.DegradeAfter, 3*time.Second)
	def(&o.SnapshotDelay, 500*time.Millisecond)
	if o.ListPage <= 0 {
		o.ListPage = 10000
	}
}

// ParseURL splits a --registry value "etcd://h1:2379,h2:2379/prefix" into
// its endpoints and key prefix (DefaultPrefix when the URL has no path).
func ParseURL(s string) (endpoints []string, prefix string, err error) {
	bad := func(why string) error {
		return fmt.Errorf("--registry %q: %s; want etcd://host:port[,host:port…][/prefix], e.g. etcd://10.0.0.1:2379,10.0.0.2:2379/webrouter", s, why)
	}
	rest, ok := strings.CutPrefix(s, "etcd://")
	if !ok {
		return nil, "", bad("not an etcd:// URL")
	}
	hosts, path, _ := strings.Cut(rest, "/")
	if hosts == "" {
		return nil, "", bad("no etcd endpoint")
	}
	for _, h := range strings.Split(hosts, ",") {
		host, port, err := net.SplitHostPort(h)
		if err != nil || host == "" || port == "" {
			return nil, "", bad(fmt.Sprintf("endpoint %q is not host:port", h))
		}
		endpoints = append(endpoints, h)
	}
	path = strings.Trim(path, "/")
	if path == "" {
		return endpoints, DefaultPrefix, nil
	}
	for i := 0; i < len(path); i++ {
		c := path[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._/", c) >= 0) {
			return nil, "", bad(fmt.Sprintf("prefix %q may hold only letters, digits, '-', '.', '_' and '/'", path))
		}
	}
	if strings.Contains(path, "//") {
		return nil, "", bad(fmt.Sprintf("prefix %q has an empty segment", path))
	}
	return endpoints, "/" + path, nil
}

// tlsConfig builds the client TLS configuration, or nil when no TLS file
// is configured.
func (o *Options) tlsConfig() (*tls.Config, error) {
	if o.CACert == "" && o.Cert == "" && o.Key == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CACert != "" {
		pem, err := os.ReadFile(o.CACert)
		if err != nil {
			return nil, fmt.Errorf("--etcd-cacert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--etcd-cacert %s: no PEM certificate in the file", o.CACert)
		}
		cfg.RootCAs = pool
	}
	if (o.Cert == "") != (o.Key == "") {
		return nil, fmt.Errorf("--etcd-cert and --etcd-key go together: give both (client certificate and its key) or neither")
	}
	if o.Cert != "" {
		pair, err := tls.LoadX509KeyPair(o.Cert, o.Key)
		if err != nil {
			return nil, fmt.Errorf("--etcd-cert/--etcd-key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}
