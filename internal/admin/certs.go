package admin

import (
	"fmt"
	"net/http"
	"time"

	"github.com/webrouter/webrouter/internal/api"
	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/route"
)

// Certificates: PUT, GET and DELETE /v1/certificates/{name}, GET
// /v1/certificates. Answers describe certificates and never carry the key;
// request bodies (which hold it) are never logged.

func (s *server) listCerts(w http.ResponseWriter, r *http.Request) {
	st := s.Store.State()
	out := api.CertificateList{Revision: st.Rev(), Certificates: []api.Certificate{}}
	now := time.Now()
	for _, c := range st.Certificates() {
		out.Certificates = append(out.Certificates, s.certView(c, now))
	}
	for _, c := range s.Live.Table().Certificates() {
		if c.Source == route.SourceDir {
			out.Certificates = append(out.Certificates, s.routeCertView(c, nil, now))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *server) getCert(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := catalog.CheckName("name", name); err != nil {
		fail(w, err)
		return
	}
	c, ok := s.Store.State().Certificate(name)
	if !ok {
		fail(w, fmt.Errorf("certificate %q: %w", name, catalog.ErrNotFound))
		return
	}
	writeJSON(w, http.StatusOK, s.certView(c, time.Now()))
}

func (s *server) putCert(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var spec catalog.CertificateSpec
	if err := decode(r, &spec); err != nil {
		fail(w, err)
		return
	}
	c, err := catalog.NewCertificate(name, spec, time.Now())
	if err != nil {
		fail(w, err)
		return
	}
	created, rev, err := s.Store.PutCertificate(r.Context(), c)
	if err != nil {
		fail(w, err)
		return
	}
	s.settle(r, rev)
	writeJSON(w, statusFor(created), s.certView(c, time.Now()))
}

func (s *server) deleteCert(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := catalog.CheckName("name", name); err != nil {
		fail(w, err)
		return
	}
	rev, err := s.Store.DeleteCertificate(r.Context(), name)
	if err != nil {
		fail(w, err)
		return
	}
	s.settle(r, rev)
	w.WriteHeader(http.StatusNoContent)
}

// certView describes a registry certificate.
func (s *server) certView(c *catalog.Certificate, now time.Time) api.Certificate {
	_, info, err := c.Parse()
	if err != nil { // stored around webrouter's checks
		return api.Certificate{Name: c.Name, Source: route.SourceRegistry, Domains: []string{}, SANs: []string{}, Subject: "unparsable: " + err.Error()}
	}
	return s.routeCertView(&route.Cert{Name: c.Name, Source: route.SourceRegistry, Info: info}, c.Domains, now)
}

func (s *server) routeCertView(c *route.Cert, override []string, now time.Time) api.Certificate {
	v := api.Certificate{
		Name: c.Name, Source: c.Source, Domains: c.Info.Names, Override: len(override) > 0, SANs: c.Info.SANs,
		Subject: c.Info.Subject, Issuer: c.Info.Issuer, NotBefore: c.Info.NotBefore.UTC(), NotAfter: c.Info.NotAfter.UTC(),
		ExpiresSoon: c.Info.ExpiresSoon(now),
	}
	if v.Domains == nil {
		v.Domains = []string{}
	}
	if v.SANs == nil {
		v.SANs = []string{}
	}
	if c.Name == s.DefaultCert {
		// The registry's certificate of that name shadows the cert dir's.
		_, inRegistry := s.Store.State().Certificate(c.Name)
		v.Default = c.Source == route.SourceRegistry || !inRegistry
	}
	return v
}
