// Package admin serves webrouter's admin API: registry writes and reads,
// the live routing table, status, health and metrics (paths and documents
// in package api).
//
// A registry write answers only once the change is in the live table (or
// after WaitTimeout, which is logged), so a client may route through the
// change as soon as its call returns. Every error is a JSON api.Error that
// names the field and the problem; a rejected write changes nothing.
package admin

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/webrouter/webrouter/internal/api"
	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/live"
	"github.com/webrouter/webrouter/internal/registry"
	"github.com/webrouter/webrouter/internal/upstream"
)

// Options are what the admin API reads and writes. Store, Live and Hosts
// are required.
type Options struct {
	Store       registry.Store
	Live        *live.Live
	Hosts       *upstream.Set
	Metrics     http.Handler  // served at /metrics; nil: 404
	Token       string        // when set, every path but /healthz needs "Authorization: Bearer <Token>"
	Version     string        // reported by /v1/status
	Started     time.Time     // reported by /v1/status
	WaitTimeout time.Duration // how long a write waits to become routable; 0: 2s
	Log         *slog.Logger  // nil: discard
	Upgrade     func() error  // starts a binary upgrade (POST /v1/upgrade); nil: 501

	Ports       func() []api.Port // the TCP ports and their listeners, for /v1/routes; nil: none
	DefaultCert string            // the certificate served when no name matches (--default-cert)
}

type server struct {
	Options
}

// New returns the admin API handler.
func New(o Options) http.Handler {
	if o.WaitTimeout == 0 {
		o.WaitTimeout = 2 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	s := &server{o}
	mux := http.NewServeMux()
	mux.Handle("/healthz", methods{http.MethodGet: s.healthz})
	mux.Handle("/v1/services", methods{http.MethodGet: s.listServices})
	mux.Handle("/v1/services/{name}", methods{http.MethodGet: s.getService, http.MethodPut: s.putService, http.MethodDelete: s.deleteService})
	mux.Handle("/v1/services/{name}/instances/{id}", methods{http.MethodGet: s.getInstance, http.MethodPut: s.putInstance, http.MethodDelete: s.deleteInstance})
	mux.Handle("/v1/services/{name}/instances/{id}/heartbeat", methods{http.MethodPut: s.heartbeat})
	mux.Handle("/v1/routes", methods{http.MethodGet: s.routes})
	mux.Handle("/v1/certificates", methods{http.MethodGet: s.listCerts})
	mux.Handle("/v1/certificates/{name}", methods{http.MethodGet: s.getCert, http.MethodPut: s.putCert, http.MethodDelete: s.deleteCert})
	mux.Handle("/v1/status", methods{http.MethodGet: s.status})
	mux.Handle("/v1/services/{name}/instances/{id}/state", methods{http.MethodPut: s.putInstanceState})
	mux.Handle("/v1/upgrade", methods{http.MethodPost: s.upgrade})
	// Profiles for diagnosing the router itself, behind the same listener
	// and token as everything else here.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	if o.Metrics != nil {
		mux.Handle("/metrics", methods{http.MethodGet: o.Metrics.ServeHTTP})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path+" (see the API reference in the README)")
	})
	if o.Token == "" {
		return mux
	}
	return s.authenticate(mux)
}

// methods dispatches on the request method and answers others with a JSON
// 405.
type methods map[string]http.HandlerFunc

func (m methods) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, ok := m[r.Method]; ok {
		h(w, r)
		return
	}
	if r.Method == http.MethodHead {
		if h, ok := m[http.MethodGet]; ok {
			h(w, r)
			return
		}
	}
	allow := ""
	for _, k := range []string{http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete} {
		if _, ok := m[k]; ok {
			if allow != "" {
				allow += ", "
			}
			allow += k
		}
	}
	w.Header().Set("Allow", allow)
	writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed here; allowed: "+allow)
}

func (s *server) authenticate(next http.Handler) http.Handler {
	want := []byte("Bearer " + s.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="webrouter"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong admin token: send \"Authorization: Bearer <token>\" (the CLI reads --admin-token / WEBROUTER_ADMIN_TOKEN)")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// settle waits until registry revision rev is in the live table.
func (s *server) settle(r *http.Request, rev uint64) {
	ctx, cancel := context.WithTimeout(r.Context(), s.WaitTimeout)
	defer cancel()
	if err := s.Live.WaitRev(ctx, rev); err != nil {
		s.Log.Warn("registry write not yet in the live table", "revision", rev, "waited", s.WaitTimeout.String(), "error", err.Error())
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, api.Error{Error: msg})
}

// fail maps an error from validation or the registry to its status.
func fail(w http.ResponseWriter, err error) {
	var fe *catalog.FieldError
	var ce *catalog.ConflictError
	var be *bodyError
	switch {
	case errors.As(err, &fe):
		writeJSON(w, http.StatusBadRequest, api.Error{Error: err.Error(), Field: fe.Field})
	case errors.As(err, &be):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.As(err, &ce):
		writeError(w, http.StatusConflict, err.Error())
	case errors.Is(err, catalog.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, registry.ErrUnavailable):
		writeError(w, http.StatusServiceUnavailable, err.Error()+"; the router keeps routing on its last table, retry the write later")
	default:
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}
