package compile

import (
	"slices"
	"testing"
	"time"

	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/certtest"
	"github.com/webrouter/webrouter/internal/upstream"
)

func certOf(t testing.TB, ca *certtest.CA, name string, notAfter time.Time, names ...string) *catalog.Certificate {
	t.Helper()
	leaf := ca.MustIssue(certtest.Options{Names: names, NotAfter: notAfter})
	c, err := catalog.NewCertificate(name, catalog.CertificateSpec{Cert: leaf.CertPEM, Key: leaf.KeyPEM}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestStreams(t *testing.T) {
	ca := certtest.MustCA("ca")
	soon, later := time.Now().Add(24*time.Hour), time.Now().Add(48*time.Hour)
	st := catalog.NewState()
	c := New(upstream.NewSet())
	f := st.Subscribe()
	a := certOf(t, ca, "a", soon, "a.test", "*.wild.test")
	st.PutCertificate(1, a)
	st.PutCertificate(2, certOf(t, ca, "b", soon, "b.test"))
	tcpSvc, _ := catalog.NewService("echo", catalog.ServiceSpec{TCPPorts: []int{9999}})
	st.PutService(3, tcpSvc)
	passSvc, _ := catalog.NewService("secure", catalog.ServiceSpec{Mountpoints: []string{"tls://secure.test", "tls://*.pass.test"}})
	st.PutService(4, passSvc)
	t1 := c.Apply(f.Take())

	leafOf := func(name string) string {
		if tc := t1.Certificate(name); tc != nil {
			return tc.Leaf.DNSNames[0]
		}
		return ""
	}
	for name, want := range map[string]string{"a.test": "a.test", "B.TEST": "b.test", "x.wild.test": "a.test",
		"x.y.wild.test": "", "wild.test": "", "other.test": "", "": ""} {
		if got := leafOf(name); got != want {
			t.Errorf("Certificate(%q) serves %q, want %q", name, got, want)
		}
	}
	if t1.CertificateNamed("b") == nil || t1.CertificateNamed("zz") != nil {
		t.Error("CertificateNamed")
	}
	if s := t1.TCP(9999); s == nil || s.Name != "echo" || s.Balance != catalog.LeastConn || !slices.Equal(t1.TCPPorts(), []int{9999}) {
		t.Errorf("TCP(9999) = %+v, ports %v", s, t1.TCPPorts())
	}
	for _, name := range []string{"secure.test", "a.pass.test", "a.b.pass.test"} {
		if s := t1.Passthrough(name); s == nil || s.Name != "secure" {
			t.Errorf("Passthrough(%q) = %+v", name, s)
		}
	}
	if t1.Passthrough("pass.test") != nil || t1.Passthrough("a.test") != nil {
		t.Error("passthrough matched too much")
	}
	// The HTTP index does not see connection mountpoints.
	if t1.Index().Len() != 0 {
		t.Errorf("HTTP routes %d, want 0", t1.Index().Len())
	}

	// An instance change keeps the view; a certificate that expires later
	// takes the name over; the unchanged certificates are not parsed again.
	in, _ := catalog.NewInstance("e1", catalog.InstanceSpec{Address: "127.0.0.1", Port: 7})
	st.PutInstance(5, "echo", in)
	t2 := c.Apply(f.Take())
	if t2.Streams() != t1.Streams() || len(t2.TCP(9999).Targets) != 1 {
		t.Error("an instance change rebuilt the streams or missed the target")
	}
	st.PutCertificate(6, certOf(t, ca, "a2", later, "a.test"))
	st.PutCertificate(7, &catalog.Certificate{Name: a.Name, Cert: a.Cert, Key: a.Key}) // same value, new pointer
	t3 := c.Apply(f.Take())
	if got := t3.Certificate("a.test"); got == t1.Certificate("a.test") || got.Leaf.NotAfter.Before(later.Add(-time.Minute)) {
		t.Error("the later certificate did not take over")
	}
	if t3.Certificate("x.wild.test") != t1.Certificate("x.wild.test") {
		t.Error("an unchanged certificate was parsed again")
	}

	// Cert-dir certificates merge in; the registry's shadow them by name.
	local := map[string]*catalog.Certificate{"b": certOf(t, ca, "b", later, "dir.test"), "d": certOf(t, ca, "d", later, "d.test")}
	t4 := c.ApplyLocal(t3.Rev, local)
	if t4.Rev != t3.Rev || t4.Gen != t3.Gen+1 || t4.Certificate("d.test") == nil || t4.Certificate("dir.test") == nil {
		t.Fatal("local certificates not served")
	}
	if t4.CertificateNamed("b") != t3.CertificateNamed("b") {
		t.Error("a dir certificate shadowed the registry's of the same name")
	}
	if n := len(t4.Certificates()); n != 5 || t4.Certificates()[4].Source != "dir" {
		t.Errorf("certificates %d", n)
	}
	t5 := c.ApplyLocal(t4.Rev, map[string]*catalog.Certificate{"d": local["d"]})
	if t5.Certificate("dir.test") != nil || t5.Certificate("d.test") != t4.Certificate("d.test") {
		t.Error("replacing the local set")
	}
	st.DeleteService(8, "echo")
	if t6 := c.Apply(f.Take()); t6.TCP(9999) != nil || len(t6.TCPPorts()) != 0 {
		t.Error("deleted TCP service still listed")
	}
}
