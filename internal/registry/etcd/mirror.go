package etcd

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"go.etcd.io/etcd/api/v3/mvccpb"

	"github.com/webrouter/webrouter/internal/catalog"
)

// mirror is the parsed content of the prefix, key by key, from which each
// service's catalog entry is rebuilt. It is what a full listing at the
// same revision would produce, so every router that has applied the same
// revisions holds the same state. It is not safe for concurrent use: the
// Store guards it.
type mirror struct {
	keys  keys
	log   *slog.Logger
	onBad func(key string, err error)

	services  map[string]catalog.Service
	instances map[string]map[string]catalog.Instance // service → id → instance, whether or not the service exists
	certs     map[string]*catalog.Certificate
	certsHit  map[string]bool  // certificates changed by the last apply
	reported  map[string]int64 // key → mod revision of the bad value already reported
}

func newMirror(k keys, log *slog.Logger, onBad func(string, error)) *mirror {
	m := &mirror{keys: k, log: log, onBad: onBad}
	m.reset()
	return m
}

func (m *mirror) reset() {
	m.services = map[string]catalog.Service{}
	m.instances = map[string]map[string]catalog.Instance{}
	m.certs = map[string]*catalog.Certificate{}
	// reported survives a reset, so that a re-list does not report the
	// same bad value twice.
	if m.reported == nil {
		m.reported = map[string]int64{}
	}
}

// load replaces the mirror with a full listing and returns every entry.
// Instances whose service is missing are reported.
func (m *mirror) load(kvs []*mvccpb.KeyValue) []*catalog.Entry {
	m.reset()
	seen := make(map[string]bool, len(kvs))
	for _, kv := range kvs {
		seen[string(kv.Key)] = true
		m.put(kv)
	}
	for key := range m.reported {
		if !seen[key] {
			delete(m.reported, key)
		}
	}
	var out []*catalog.Entry
	for name := range m.services {
		out = append(out, m.entry(name))
	}
	for _, kv := range kvs {
		m.checkOrphan(kv)
	}
	return out
}

// certList returns every certificate.
func (m *mirror) certList() []*catalog.Certificate {
	out := make([]*catalog.Certificate, 0, len(m.certs))
	for _, c := range m.certs {
		out = append(out, c)
	}
	return out
}

// apply applies the events of one revision (one etcd transaction) and
// returns the services whose entries may have changed; the certificates
// that may have changed are in m.certsHit until the next apply. Instances put
// without their service are reported once the whole revision is applied,
// so that a transaction writing a service and its instances in any order
// is not reported.
func (m *mirror) apply(evs []event) map[string]bool {
	changed := map[string]bool{}
	m.certsHit = map[string]bool{}
	for _, ev := range evs {
		key := string(ev.kv.Key)
		kind, svc, id := m.keys.parse(key)
		if !ev.delete {
			if s := m.put(ev.kv); s != "" {
				changed[s] = true
			}
			continue
		}
		delete(m.reported, key)
		switch kind {
		case kindCertificate:
			delete(m.certs, svc)
			m.certsHit[svc] = true
		case kindService:
			delete(m.services, svc)
			changed[svc] = true
		case kindInstance:
			if ins := m.instances[svc]; ins != nil {
				delete(ins, id)
				if len(ins) == 0 {
					delete(m.instances, svc)
				}
			}
			changed[svc] = true
		}
	}
	for _, ev := range evs {
		if !ev.delete {
			m.checkOrphan(ev.kv)
		}
	}
	return changed
}

// put records a key's value: parsed, or removed and reported if it does
// not parse. It returns the service concerned.
func (m *mirror) put(kv *mvccpb.KeyValue) string {
	key := string(kv.Key)
	kind, svc, id := m.keys.parse(key)
	switch kind {
	case kindService:
		s, err := parseService(svc, kv.Value)
		if err != nil {
			delete(m.services, svc)
			m.bad(kv, err)
			return svc
		}
		delete(m.reported, key)
		m.services[svc] = s
		return svc
	case kindInstance:
		in, err := parseInstance(id, kv.Value)
		ins := m.instances[svc]
		if err != nil {
			delete(ins, id)
			m.bad(kv, err)
			return svc
		}
		delete(m.reported, key)
		if ins == nil {
			ins = map[string]catalog.Instance{}
			m.instances[svc] = ins
		}
		ins[id] = in
		return svc
	case kindCertificate:
		if m.certsHit != nil {
			m.certsHit[svc] = true
		}
		c, err := parseCertificate(svc, kv.Value)
		if err != nil {
			delete(m.certs, svc)
			m.bad(kv, err)
			return ""
		}
		delete(m.reported, key)
		m.certs[svc] = c
		return ""
	case kindMountpoint, kindHealth:
		return ""
	}
	m.bad(kv, errors.New("unknown key: webrouter keeps services/<name>, instances/<service>/<id>, certificates/<name> and mountpoints/<mountpoint> under its prefix"))
	return ""
}

// checkOrphan reports, once, an instance whose service does not exist.
func (m *mirror) checkOrphan(kv *mvccpb.KeyValue) {
	kind, svc, id := m.keys.parse(string(kv.Key))
	if kind != kindInstance {
		return
	}
	if _, ok := m.services[svc]; ok {
		return
	}
	if _, ok := m.instances[svc][id]; ok {
		m.bad(kv, fmt.Errorf("service %q does not exist (or its value is bad); the instance is skipped until it does", svc))
	}
}

// bad reports a skipped value once per revision of its key.
func (m *mirror) bad(kv *mvccpb.KeyValue, err error) {
	key := string(kv.Key)
	if rev, ok := m.reported[key]; ok && rev == kv.ModRevision {
		return
	}
	m.reported[key] = kv.ModRevision
	m.log.Warn("etcd registry: skipped a bad entry; fix or delete the key", "key", key, "revision", kv.ModRevision, "err", err)
	if m.onBad != nil {
		m.onBad(key, err)
	}
}

// entry builds the catalog entry of a service from the mirror, or nil if
// the service does not exist.
func (m *mirror) entry(name string) *catalog.Entry {
	svc, ok := m.services[name]
	if !ok {
		return nil
	}
	e := &catalog.Entry{Service: svc}
	if ins := m.instances[name]; len(ins) > 0 {
		e.Instances = make([]catalog.Instance, 0, len(ins))
		for _, in := range ins {
			e.Instances = append(e.Instances, in)
		}
		slices.SortFunc(e.Instances, func(a, b catalog.Instance) int { return strings.Compare(a.ID, b.ID) })
	}
	return e
}

// event is one change of a key, from a watch.
type event struct {
	kv     *mvccpb.KeyValue
	delete bool
}
