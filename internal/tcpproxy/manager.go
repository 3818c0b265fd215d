package tcpproxy

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/webrouter/webrouter/internal/route"
)

// DefaultRetry is how often a port that could not be opened is tried again.
const DefaultRetry = 2 * time.Second

// Listener opens and closes the listening sockets of TCP ports. The server
// implements it over its upgrader, so that a binary upgrade hands the
// sockets over.
type Listener interface {
	// Listen returns a listening socket for port.
	Listen(port int) (net.Listener, error)
	// Release stops listening on a port that is no longer served (for every
	// copy of the socket, including one kept to hand over) and closes ln.
	Release(ln net.Listener)
}

// PortStatus is one TCP port as the manager holds it.
type PortStatus struct {
	Port      int
	Service   string
	Listening bool
	Error     string    // why the port is not open; retried every Retry
	Since     time.Time // when the port last changed state
}

// ManagerOptions configure a Manager. Table, Listener and Forwarder are
// required.
type ManagerOptions struct {
	Table     func() *route.Table
	Listener  Listener
	Forwarder *Forwarder
	Retry     time.Duration // 0: DefaultRetry
	Log       *slog.Logger  // nil: discard
	// OnChange, if set, is told each change of a port's state (for
	// metrics); err is nil when the port is listening, and service is ""
	// when the port was closed.
	OnChange func(port int, service string, err error)
}

// Manager keeps one listener per TCP port of the live table: at each
// table swap (Sync, called by the swap before the write that caused it
// returns) it opens the ports that appeared and closes those that went
// away. A port that cannot be opened (in use, not permitted) is
// recorded with its error, logged once per change and retried every
// Retry; it never affects other ports or routes.
type Manager struct {
	o ManagerOptions

	mu    sync.Mutex
	ports map[int]*port
	stop  bool
	wg    sync.WaitGroup
}

type port struct {
	status PortStatus
	ln     net.Listener // nil while failing
}

// NewManager returns a Manager; call Sync once, then Run.
func NewManager(o ManagerOptions) *Manager {
	if o.Retry == 0 {
		o.Retry = DefaultRetry
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Manager{o: o, ports: map[int]*port{}}
}

// Run syncs every Retry while a port is failing, until ctx ends.
func (m *Manager) Run(ctx context.Context) {
	t := time.NewTicker(m.o.Retry)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if !m.failing() {
				continue
			}
		}
		m.Sync()
	}
}

func (m *Manager) failing() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.ports {
		if p.ln == nil {
			return true
		}
	}
	return false
}

// Sync makes the listeners match the current table once.
func (m *Manager) Sync() {
	t := m.o.Table()
	want := map[int]string{}
	for _, p := range t.TCPPorts() {
		if svc := t.TCP(p); svc != nil {
			want[p] = svc.Name
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stop {
		return
	}
	now := time.Now()
	for n, p := range m.ports {
		if _, ok := want[n]; ok {
			continue
		}
		if p.ln != nil {
			m.o.Listener.Release(p.ln)
			m.o.Log.Info("tcp port closed", "port", n, "service", p.status.Service)
		}
		delete(m.ports, n)
		m.changed(n, "", nil)
	}
	for n, svc := range want {
		p := m.ports[n]
		if p == nil {
			p = &port{status: PortStatus{Port: n, Since: now}}
			m.ports[n] = p
		}
		if p.status.Service != svc && p.ln != nil {
			m.o.Log.Info("tcp port changed service", "port", n, "service", svc, "was", p.status.Service)
			p.status.Service = svc
			m.changed(n, svc, nil)
		}
		p.status.Service = svc
		if p.ln != nil {
			continue
		}
		ln, err := m.o.Listener.Listen(n)
		if err != nil {
			if p.status.Error != err.Error() {
				m.o.Log.Warn("tcp port could not be opened; retrying", "port", n, "service", svc,
					"every", m.o.Retry.String(), "error", err.Error())
				p.status.Error, p.status.Since = err.Error(), now
				m.changed(n, svc, err)
			}
			continue
		}
		p.ln, p.status.Listening, p.status.Error, p.status.Since = ln, true, "", now
		m.o.Log.Info("listening", "entrypoint", "tcp:"+strconv.Itoa(n), "addr", ln.Addr().String(), "service", svc)
		m.changed(n, svc, nil)
		m.wg.Add(1)
		go m.accept(n, ln)
	}
}

func (m *Manager) changed(port int, service string, err error) {
	if m.o.OnChange != nil {
		m.o.OnChange(port, service, err)
	}
}

// accept serves one port until its listener is closed. Each connection is
// routed by the table current when it arrives.
func (m *Manager) accept(n int, ln net.Listener) {
	defer m.wg.Done()
	entry := "tcp:" + strconv.Itoa(n)
	pause := 5 * time.Millisecond
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait, as net/http does.
			m.o.Log.Warn("tcp accept failed; retrying", "entrypoint", entry, "error", err.Error())
			time.Sleep(pause)
			pause = min(2*pause, time.Second)
			continue
		}
		pause = 5 * time.Millisecond
		svc := m.o.Table().TCP(n)
		if svc == nil { // the port is being closed
			c.Close()
			continue
		}
		go m.o.Forwarder.Serve(c, nil, svc, entry)
	}
}

// Status returns every port the table asks for, sorted by port.
func (m *Manager) Status() []PortStatus {
	m.mu.Lock()
	out := make([]PortStatus, 0, len(m.ports))
	for _, p := range m.ports {
		out = append(out, p.status)
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b PortStatus) int { return a.Port - b.Port })
	return out
}

// Close stops accepting on every port and waits for the accept loops to
// end; the connections being forwarded continue (see Forwarder.Drain).
// It closes the listeners without Release, so that sockets handed to a new
// process by an upgrade keep listening there. Sync does nothing after
// Close.
func (m *Manager) Close() {
	m.mu.Lock()
	m.stop = true
	for _, p := range m.ports {
		if p.ln != nil {
			p.ln.Close()
		}
	}
	m.mu.Unlock()
	m.wg.Wait()
}
