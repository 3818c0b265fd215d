package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/certtest"
)

func cert(t testing.TB, name string, domains ...string) *catalog.Certificate {
	t.Helper()
	leaf := certtest.MustCA("ca").MustIssue(certtest.Options{Names: []string{name + ".test"}})
	c, err := catalog.NewCertificate(name, catalog.CertificateSpec{Cert: leaf.CertPEM, Key: leaf.KeyPEM, Domains: domains}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCertificates(t *testing.T) {
	st := open(t, t.TempDir(), Options{})
	cx := context.Background()
	a, b := cert(t, "a"), cert(t, "b", "b.example.com")
	if created, rev, err := st.PutCertificate(cx, a); err != nil || !created || rev != 1 {
		t.Fatalf("put a = %v %d %v", created, rev, err)
	}
	if created, _, err := st.PutCertificate(cx, a); err != nil || created {
		t.Fatalf("put a again = %v %v", created, err)
	}
	if _, _, err := st.PutCertificate(cx, b); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DeleteCertificate(cx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DeleteCertificate(cx, "a"); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("delete missing: %v", err)
	}
	st = reopen(t, st)
	list := st.State().Certificates()
	if len(list) != 1 || !list[0].Equal(b) || st.State().Rev() != 4 {
		t.Fatalf("after reopen: %v rev %d", list, st.State().Rev())
	}

	// A bad certificate on disk is skipped at load, not fatal.
	dir := st.dir
	st.Close()
	db, err := bolt.Open(dir+"/"+FileName, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error {
		bad, _ := json.Marshal(catalog.Certificate{Name: "bad", Cert: "x", Key: "y"})
		return tx.Bucket(certsBucket).Put([]byte("bad"), bad)
	})
	db.Close()
	var skipped []string
	st = open(t, dir, Options{OnBadEntry: func(key string, _ error) { skipped = append(skipped, key) }})
	if len(st.State().Certificates()) != 1 || len(skipped) != 1 || skipped[0] != "certificates/bad" {
		t.Errorf("skipped %v, certificates %v", skipped, st.State().Certificates())
	}
}
