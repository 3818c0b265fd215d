// Package server assembles a running router from its parts: the registry
// backend, the live table, the HTTP proxy, the admin API and metrics. It
// owns the listeners and the graceful shutdown.
package server

import "time"

// Config is everything `webrouter serve` can be told.
type Config struct {
	Version string

	HTTPAddr   string // entry point for proxied HTTP, e.g. ":8080"
	HTTPS      HTTPSConfig
	AdminAddr  string // admin API, e.g. "127.0.0.1:9090"
	AdminToken string // required when AdminAddr is not loopback; never logged
	DataDir    string // embedded registry directory; with etcd, the snapshot's
	Registry   string // "embedded" (the embedded store in DataDir) or "etcd://h1:2379,h2:2379/prefix"
	Etcd       EtcdConfig

	ShutdownGrace    time.Duration // how long in-flight requests may take on SIGTERM or after an upgrade
	DrainTimeout     time.Duration // how long a draining or removed instance's requests may continue
	UpgradeTimeout   time.Duration // how long a new process may take to become ready on upgrade
	PIDFile          string        // written with the serving process's pid (follows upgrades); "" = none
	ConnectTimeout   time.Duration // dialling a backend
	ResponseTimeout  time.Duration // from request sent to response headers
	IdleConnsPerHost int           // kept-alive backend connections per address

	AccessLog string // "stdout", "stderr", "off" or a file path
	LogFormat string // "text" or "json", for the access log
}

// Defaults returns the configuration `webrouter serve` uses with no flags.
func Defaults() Config {
	return Config{
		HTTPAddr:         ":8080",
		HTTPS:            HTTPSConfig{DefaultCert: "default"},
		AdminAddr:        "127.0.0.1:9090",
		DataDir:          "./data",
		Registry:         "embedded",
		ShutdownGrace:    30 * time.Second,
		DrainTimeout:     30 * time.Second,
		UpgradeTimeout:   time.Minute,
		ConnectTimeout:   5 * time.Second,
		ResponseTimeout:  60 * time.Second,
		IdleConnsPerHost: 256,
		AccessLog:        "stdout",
		LogFormat:        "text",
	}
}

// HTTPSConfig is the TLS entry point and the connection-level services.
type HTTPSConfig struct {
	Addr        string // HTTPS entry point, e.g. ":8443"; "" = none
	CertDir     string // directory of <name>.crt + <name>.key, polled; "" = none
	DefaultCert string // certificate served when no name matches (registry or cert dir)
	TCPBind     string // host TCP service ports listen on; "" = every address
}
