package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/webrouter/webrouter/internal/certtest"
)

func TestNewCertificate(t *testing.T) {
	ca := certtest.MustCA("test CA")
	leaf := ca.MustIssue(certtest.Options{Names: []string{"a.example.com", "*.Example.com"}})
	c, err := NewCertificate("web", CertificateSpec{Cert: leaf.CertPEM, Key: leaf.KeyPEM}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	_, info, err := c.Parse()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a.example.com", "*.example.com"}; !slices.Equal(info.Names, want) {
		t.Errorf("names %v, want %v", info.Names, want)
	}
	if info.ExpiresSoon(time.Now()) || !info.ExpiresSoon(time.Now().Add(80*24*time.Hour)) {
		t.Error("expires_soon wrong")
	}
	data, _ := json.Marshal(c)
	back, err := ParseCertificate(data)
	if err != nil || !back.Equal(c) {
		t.Errorf("round trip: %v", err)
	}

	o, err := NewCertificate("web", CertificateSpec{Cert: leaf.CertPEM, Key: leaf.KeyPEM, Domains: []string{"Other.com.", "other.com"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, info, _ := o.Parse(); !slices.Equal(info.Names, []string{"other.com"}) || len(info.SANs) != 2 {
		t.Errorf("override: names %v sans %v", info.Names, info.SANs)
	}

	// Neither printing nor logging shows the key.
	var sb strings.Builder
	slog.New(slog.NewTextHandler(&sb, nil)).Info("x", "cert", c)
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %s", c, c, c), sb.String()} {
		if strings.Contains(s, "PRIVATE KEY") || strings.Contains(s, leaf.KeyPEM[40:80]) {
			t.Errorf("key material in %q", s)
		}
	}
}

func TestNewCertificateRejects(t *testing.T) {
	ca := certtest.MustCA("test CA")
	good := ca.MustIssue(certtest.Options{Names: []string{"a.com"}})
	other := ca.MustIssue(certtest.Options{Names: []string{"b.com"}})
	expired := ca.MustIssue(certtest.Options{Names: []string{"a.com"}, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	tests := []struct {
		name, cert, key string
		domains         []string
		field, inErr    string
	}{
		{"web", "", good.KeyPEM, nil, "cert", "required"},
		{"web", good.CertPEM, "", nil, "key", "required"},
		{"web", "garbage", good.KeyPEM, nil, "cert", "PEM"},
		{"web", good.CertPEM, "garbage", nil, "key", "PEM"},
		{"web", good.CertPEM, other.KeyPEM, nil, "key", "does not match"},
		{"web", good.KeyPEM, good.KeyPEM, nil, "cert", "PRIVATE KEY"},
		{"web", expired.CertPEM, expired.KeyPEM, nil, "cert", "expired"},
		{"web", good.CertPEM, good.KeyPEM, []string{"bad name"}, "domains[0]", "letters"},
		{"Bad", good.CertPEM, good.KeyPEM, nil, "name", ""},
	}
	for _, tt := range tests {
		_, err := NewCertificate(tt.name, CertificateSpec{Cert: tt.cert, Key: tt.key, Domains: tt.domains}, time.Now())
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tt.field || !strings.Contains(err.Error(), tt.inErr) {
			t.Errorf("%s/%s: error %v, want field %q containing %q", tt.name, tt.field, err, tt.field, tt.inErr)
			continue
		}
		if strings.Contains(err.Error(), good.KeyPEM[40:80]) || strings.Contains(err.Error(), other.KeyPEM[40:80]) {
			t.Errorf("error shows key material: %v", err)
		}
	}
	// A stored certificate that has expired still loads.
	data, _ := json.Marshal(Certificate{Name: "old", Cert: expired.CertPEM, Key: expired.KeyPEM})
	if _, err := ParseCertificate(data); err != nil {
		t.Errorf("stored expired certificate: %v", err)
	}
}

func TestStateCertificates(t *testing.T) {
	ca := certtest.MustCA("test CA")
	leaf := ca.MustIssue(certtest.Options{Names: []string{"a.com"}})
	a, _ := NewCertificate("a", CertificateSpec{Cert: leaf.CertPEM, Key: leaf.KeyPEM}, time.Now())
	b, _ := NewCertificate("b", CertificateSpec{Cert: leaf.CertPEM, Key: leaf.KeyPEM, Domains: []string{"b.com"}}, time.Now())
	s := NewState()
	if !s.PutCertificate(1, a) || s.PutCertificate(2, a) {
		t.Error("created flags wrong")
	}
	f := s.Subscribe()
	<-f.Ready()
	if got := f.Take(); got.Certificates["a"] != a || got.Rev != 2 {
		t.Errorf("first batch %+v", got)
	}
	s.PutCertificate(3, b)
	s.DeleteCertificate(4, "a")
	<-f.Ready()
	got := f.Take()
	if len(got.Certificates) != 2 || got.Certificates["a"] != nil || got.Certificates["b"] != b || len(got.Changes) != 0 {
		t.Errorf("batch %+v", got)
	}
	s.SetCertificate(5, "b", &Certificate{Name: "b", Cert: b.Cert, Key: b.Key, Domains: b.Domains})
	s.ReplaceCertificates(6, []*Certificate{b})
	<-f.Ready()
	if got := f.Take(); got.Certificates != nil || got.Rev != 6 {
		t.Errorf("unchanged certificate published: %+v", got)
	}
	if list := s.Certificates(); len(list) != 1 || list[0] != b {
		t.Errorf("list %v", list)
	}
}
