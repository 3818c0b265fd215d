package embedded

import (
	"errors"
	"fmt"
	"log/slog"

	bolt "go.etcd.io/bbolt"

	"github.com/webrouter/webrouter/internal/catalog"
)

// loader reads the whole file into entries, skipping and reporting bad
// ones.
type loader struct {
	log   *slog.Logger
	onBad func(key string, err error)

	rev       uint64
	entries   []*catalog.Entry // sorted by service name (bbolt key order)
	certs     []*catalog.Certificate
	instances int
	skipped   int
}

// load is a bolt View function. It fails only if the layout is damaged.
func (l *loader) load(tx *bolt.Tx) error {
	meta, services, instances := tx.Bucket(metaBucket), tx.Bucket(servicesBucket), tx.Bucket(instancesBucket)
	if meta == nil || services == nil || instances == nil {
		return errors.New("database file is missing a top-level bucket")
	}
	rev, err := decodeRev(meta.Get(revKey))
	if err != nil {
		return err
	}
	l.rev = rev

	byName := map[string]*catalog.Entry{}
	c := services.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		key := "services/" + string(k)
		if v == nil {
			l.bad(key, errors.New("is a bucket, want a service's JSON"))
			continue
		}
		svc, err := catalog.ParseService(v)
		if err != nil {
			l.bad(key, err)
			continue
		}
		if svc.Name != string(k) {
			l.bad(key, fmt.Errorf("key does not match the name %q inside", svc.Name))
			continue
		}
		e := &catalog.Entry{Service: svc}
		byName[svc.Name] = e
		l.entries = append(l.entries, e)
	}

	c = instances.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		key := "instances/" + string(k)
		if v != nil {
			l.bad(key, errors.New("is a plain value, want a bucket of instances"))
			continue
		}
		e := byName[string(k)]
		if e == nil {
			if services.Get(k) == nil && services.Bucket(k) == nil {
				l.bad(key, fmt.Errorf("service %q does not exist", k))
			} else {
				l.bad(key, fmt.Errorf("service %q was skipped", k))
			}
			continue
		}
		e.Instances = l.loadInstances(key, instances.Bucket(k))
		l.instances += len(e.Instances)
	}
	l.loadCertificates(tx.Bucket(certsBucket))
	return nil
}

// loadCertificates reads the certificates bucket (absent in a file written
// before certificates existed; Open creates it).
func (l *loader) loadCertificates(b *bolt.Bucket) {
	if b == nil {
		return
	}
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		key := "certificates/" + string(k)
		if v == nil {
			l.bad(key, errors.New("is a bucket, want a certificate's JSON"))
			continue
		}
		cert, err := catalog.ParseCertificate(v)
		if err != nil {
			l.bad(key, err)
			continue
		}
		if cert.Name != string(k) {
			l.bad(key, fmt.Errorf("key does not match the name %q inside", cert.Name))
			continue
		}
		l.certs = append(l.certs, cert)
	}
}

// loadInstances reads one service's instance bucket; prefix is its key.
// bbolt iterates keys in byte order, which is the ID order an Entry wants.
func (l *loader) loadInstances(prefix string, b *bolt.Bucket) []catalog.Instance {
	var out []catalog.Instance
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		key := prefix + "/" + string(k)
		if v == nil {
			l.bad(key, errors.New("is a bucket, want an instance's JSON"))
			continue
		}
		in, err := catalog.ParseInstance(v)
		if err != nil {
			l.bad(key, err)
			continue
		}
		if in.ID != string(k) {
			l.bad(key, fmt.Errorf("key does not match the id %q inside", in.ID))
			continue
		}
		out = append(out, in)
	}
	return out
}

func (l *loader) bad(key string, err error) {
	l.skipped++
	l.log.Warn("embedded registry: skipped bad entry; it stays on disk until overwritten", "key", key, "err", err)
	if l.onBad != nil {
		l.onBad(key, err)
	}
}

// warnConflicts logs services that share a mountpoint. The Store never
// writes such a pair, but a file edited by other means may hold one; the
// State mirrors it as it is.
func (l *loader) warnConflicts(st *catalog.State) {
	for _, e := range l.entries {
		var conflict *catalog.ConflictError
		if errors.As(st.CheckService(e.Service), &conflict) {
			l.log.Warn("embedded registry: services share a mountpoint", "service", e.Service.Name,
				"mountpoint", conflict.Mountpoint, "other", conflict.Owner)
		}
	}
}
