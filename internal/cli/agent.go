package cli

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/webrouter/webrouter/internal/agent"
	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/client"
	"github.com/webrouter/webrouter/internal/registry/etcd"
)

// agentFlags is what `webrouter agent` is told.
type agentFlags struct {
	cfg               agent.Config
	registry, docker  string
	token             string
	etcd              etcd.Options
	once              bool
	logFormat, logLvl string
	requestTimeout    time.Duration
}

// agentCmd registers this host's Docker containers in webrouter's registry.
func (a *app) agentCmd() *cobra.Command {
	f := &agentFlags{}
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Register this host's Docker containers in webrouter's registry",
		Long: "Watch the Docker engine and keep the registry true to the containers that run\n" +
			"here: those labelled webrouter.service (or registrator's SERVICE_NAME), or with\n" +
			"--all every container with a published port. Each instance carries a lease\n" +
			"the agent renews; a dead host's instances vanish after --ttl. See the README,\n" +
			"\"Registering containers\", for the labels.\n\n" +
			"--once prints what would be registered and exits without writing anything.",
		Example: "  webrouter agent --registry http://10.0.0.1:9090 --host-ip 10.0.0.7\n" +
			"  webrouter agent --registry etcd://10.0.0.1:2379,10.0.0.2:2379/webrouter --internal\n" +
			"  webrouter agent --once --host-ip 10.0.0.7",
		Args: exactArgs(),
		RunE: runE(func(cmd *cobra.Command, _ []string) error { return a.runAgent(cmd, f) }),
	}
	fs := cmd.Flags()
	c := &f.cfg
	fs.StringVar(&f.registry, "registry", "", "where to register: a router's admin API (`URL` http(s)://host:port or host:port) or etcd://host:port[,host:port…][/prefix]")
	fs.StringVar(&f.docker, "docker", "", "Docker engine `address` (default $DOCKER_HOST or unix:///var/run/docker.sock)")
	fs.StringVar(&c.HostIP, "host-ip", "", "`address` routers reach this host at, for ports published on all interfaces")
	fs.StringVar(&c.HostID, "host-id", "", "this host's id: owner of its instances and the start of their ids (default: the host name, else /etc/machine-id)")
	fs.BoolVar(&c.Internal, "internal", false, "register each container's own network address and port instead of the published port (overlay networks)")
	fs.BoolVar(&c.All, "all", false, "take every container with a published port, labelled or not (registrator without -explicit)")
	fs.DurationVar(&c.TTL, "ttl", 30*time.Second, "lease of every instance; renewed every ttl/3")
	fs.DurationVar(&c.Resync, "resync", time.Minute, "how often to re-list everything and reconcile, as a safety net")
	fs.DurationVar(&c.DrainWait, "drain-wait", 5*time.Second, "how long a removal waits for the requests in flight before deleting the instance")
	fs.DurationVar(&f.requestTimeout, "request-timeout", 10*time.Second, "timeout of one admin API request")
	fs.BoolVar(&f.once, "once", false, "print what would be registered (dry run) and exit")
	fs.VarP(newEnum(&a.output, outTable, outTable, outJSON), "output", "o", "output format of --once")
	fs.Var(newEnum(&f.logFormat, "text", "text", "json"), "log-format", "format of the log (stderr)")
	fs.Var(newEnum(&f.logLvl, "info", "debug", "info", "warn", "error"), "log-level", "lowest level of the log")
	// Only the credentials come from the environment (see envFlags).
	creds := pflag.NewFlagSet("credentials", pflag.ContinueOnError)
	creds.StringVar(&f.token, "admin-token", "", "bearer `token` for the admin API")
	creds.StringVar(&f.etcd.CACert, "etcd-cacert", "", "CA certificate `file` (PEM) of the etcd members; enables TLS")
	creds.StringVar(&f.etcd.Cert, "etcd-cert", "", "client certificate `file` (PEM) for etcd; needs --etcd-key")
	creds.StringVar(&f.etcd.Key, "etcd-key", "", "client key `file` (PEM) of --etcd-cert")
	creds.StringVar(&f.etcd.User, "etcd-user", "", "etcd user `name`")
	creds.StringVar(&f.etcd.Password, "etcd-password", "", "etcd `password` of --etcd-user (prefer the environment variable)")
	envFlags(creds)
	fs.AddFlagSet(creds)
	return cmd
}

// runAgent checks the flags, then runs the agent until SIGINT or SIGTERM
// (or, with --once, prints the dry run).
func (a *app) runAgent(cmd *cobra.Command, f *agentFlags) error {
	cfg := f.cfg
	if cfg.HostID == "" {
		cfg.HostID = defaultHostID()
	}
	if err := catalog.CheckName("--host-id", cfg.HostID); err != nil {
		return usagef("%v (lower-case letters, digits, '.', '_', '-')", err)
	}
	if cfg.TTL < catalog.MinTTL || cfg.TTL > catalog.MaxTTL {
		return usagef("--ttl %s: want %s–%s", cfg.TTL, catalog.MinTTL, catalog.MaxTTL)
	}
	if cfg.Resync <= 0 || cfg.DrainWait < 0 || f.requestTimeout <= 0 {
		return usagef("--resync and --request-timeout must be positive, --drain-wait 0 or more")
	}
	if cfg.HostIP != "" {
		ip, err := canonicalIP(cfg.HostIP)
		if err != nil {
			return usageError{err}
		}
		cfg.HostIP = ip
	}
	log, err := newLogger(a.stderr, f.logFormat, f.logLvl)
	if err != nil {
		return usageError{err}
	}
	cfg.Logger = log
	docker, err := agent.NewDocker(f.docker)
	if err != nil {
		return usageError{err}
	}
	defer docker.Close()
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if f.once {
		d, err := agent.ListDesired(ctx, docker, cfg.Options)
		if err != nil {
			return err
		}
		return a.render(d, func(w io.Writer) error { return writeDesired(w, d) })
	}
	reg, closeReg, err := openAgentRegistry(f, log)
	if err != nil {
		return err
	}
	defer closeReg()
	return agent.New(cfg, docker, reg).Run(ctx)
}

// openAgentRegistry returns the Registry --registry names.
func openAgentRegistry(f *agentFlags, log *slog.Logger) (agent.Registry, func(), error) {
	switch {
	case f.registry == "":
		return nil, nil, usagef("--registry is required: a router's admin API (http://host:9090) or etcd://host:2379/prefix; or use --once for a dry run")
	case strings.HasPrefix(f.registry, "etcd://"):
		eps, prefix, err := etcd.ParseURL(f.registry)
		if err != nil {
			return nil, nil, usageError{err}
		}
		opts := f.etcd
		opts.Endpoints, opts.Prefix, opts.Logger = eps, prefix, log
		st, err := etcd.Open(opts)
		if err != nil {
			return nil, nil, usageError{err}
		}
		return agent.Store{S: st}, func() { st.Close() }, nil
	default:
		c, err := client.New(f.registry, f.token, &http.Client{Timeout: f.requestTimeout})
		if err != nil {
			return nil, nil, usagef("--registry: %v", err)
		}
		return agent.API{C: c}, func() {}, nil
	}
}

// defaultHostID is the host name made to fit an id, else /etc/machine-id.
func defaultHostID() string {
	if h, err := os.Hostname(); err == nil {
		if id := hostIDOf(h); id != "" {
			return id
		}
	}
	b, _ := os.ReadFile("/etc/machine-id")
	return hostIDOf(string(b))
}

// hostIDOf lower-cases s and turns characters an id may not hold into '-'.
func hostIDOf(s string) string {
	b := []byte(strings.ToLower(strings.TrimSpace(s)))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '-'
		}
	}
	return strings.TrimLeft(string(b), "._-")
}

// canonicalIP checks --host-ip.
func canonicalIP(s string) (string, error) {
	in, err := catalog.NewInstance("x", catalog.InstanceSpec{Address: s, Port: 1})
	if err != nil {
		return "", fmt.Errorf("--host-ip %q: want the IP address (or host name) routers reach this host at", s)
	}
	return in.Address, nil
}

// writeDesired is the table of --once.
func writeDesired(w io.Writer, d agent.Desired) error {
	t := &table{}
	t.row("SERVICE", "INSTANCE", "ADDRESS", "WEIGHT", "STATE", "CONTAINER", "MOUNTPOINTS")
	for _, r := range d.Registrations {
		state := "ready"
		if !r.Ready {
			state = "not routed: " + r.Reason
		}
		addr := catalog.Instance{Address: r.Address, Port: r.Port}.HostPort()
		t.row(r.Service, r.ID, addr, strconv.Itoa(r.Weight), state, r.Name, orDash(strings.Join(r.Mountpoints, ",")))
	}
	if err := t.write(w); err != nil {
		return err
	}
	if len(d.Registrations) == 0 {
		fmt.Fprintln(w, "(no container to register: label one with webrouter.service=NAME, or run the agent with --all)")
	}
	if len(d.Problems) > 0 {
		fmt.Fprintln(w, "problems:")
		for _, p := range d.Problems {
			fmt.Fprintln(w, "  -", p.Error())
		}
	}
	return nil
}
