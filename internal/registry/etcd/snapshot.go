package etcd

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/webrouter/webrouter/internal/catalog"
)

// SnapshotFile is the name of the snapshot in Options.DataDir.
const SnapshotFile = "snapshot.json"

// snapshotFormat names the file's layout; a file of another format is
// ignored.
const snapshotFormat = "webrouter-etcd-snapshot/1"

// snapshotDoc is the snapshot file: the whole registry as this router last
// mirrored it.
type snapshotDoc struct {
	Format   string            `json:"format"`
	Prefix   string            `json:"prefix"`
	Revision uint64            `json:"revision"`
	Written  time.Time         `json:"written"`
	Services []json.RawMessage `json:"services"` // each a snapshotEntry
	// Certificates, each a catalog.Certificate with its key: the file is
	// written with mode 0600.
	Certificates []json.RawMessage `json:"certificates,omitempty"`
}

type snapshotEntry struct {
	Service   json.RawMessage   `json:"service"`
	Instances []json.RawMessage `json:"instances"`
}

// writeSnapshots writes the snapshot whenever the State changes, at most
// once per SnapshotDelay and off the request path, once the State has been
// listed from etcd (a State loaded from the snapshot is not written back).
// It writes a last one at Close if a change is pending.
func (s *Store) writeSnapshots() {
	defer s.wg.Done()
	if s.opts.DataDir == "" {
		return
	}
	feed := s.state.Subscribe()
	defer s.state.Unsubscribe(feed)
	var due <-chan time.Time
	pending := false
	for {
		select {
		case <-feed.Ready():
			feed.Take()
			pending = true
			if due == nil {
				due = time.After(s.opts.SnapshotDelay)
			}
		case <-due:
			due = nil
			if s.isListed() {
				s.saveSnapshot()
				pending = false
			}
		case <-s.ctx.Done():
			if pending && s.isListed() {
				s.saveSnapshot()
			}
			return
		}
	}
}

func (s *Store) isListed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listed
}

// saveSnapshot writes the State atomically: a temporary file, fsync, then
// rename over the old snapshot.
func (s *Store) saveSnapshot() {
	rev, entries, certs := s.entries()
	doc := snapshotDoc{Format: snapshotFormat, Prefix: s.opts.Prefix, Revision: rev, Written: time.Now().UTC(),
		Services: []json.RawMessage{}}
	for _, e := range entries {
		se := snapshotEntry{Instances: []json.RawMessage{}}
		se.Service, _ = json.Marshal(e.Service)
		for _, in := range e.Instances {
			b, _ := json.Marshal(in)
			se.Instances = append(se.Instances, b)
		}
		b, _ := json.Marshal(se)
		doc.Services = append(doc.Services, b)
	}
	for _, c := range certs {
		b, _ := json.Marshal(c)
		doc.Certificates = append(doc.Certificates, b)
	}
	if err := writeFileAtomic(filepath.Join(s.opts.DataDir, SnapshotFile), doc); err != nil {
		s.log.Warn("etcd registry: could not write the snapshot; a restart while etcd is down would start empty", "err", err)
	}
}

func writeFileAtomic(path string, doc snapshotDoc) error {
	data, err := json.MarshalIndent(doc, "", " ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), SnapshotFile+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// loadSnapshot fills the State from the snapshot if etcd has not been
// listed yet; entries that do not parse are reported and skipped.
func (s *Store) loadSnapshot() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listed {
		return
	}
	note := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		s.health.Lock()
		s.snapNote = msg
		s.health.Unlock()
		s.log.Warn("etcd registry: etcd did not answer at start; " + msg)
	}
	if s.opts.DataDir == "" {
		note("no snapshot configured; serving an empty table until etcd answers")
		return
	}
	path := filepath.Join(s.opts.DataDir, SnapshotFile)
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		note("no snapshot at %s; serving an empty table until etcd answers", path)
		return
	}
	var doc snapshotDoc
	if err == nil {
		err = json.Unmarshal(data, &doc)
	}
	if err == nil && (doc.Format != snapshotFormat || doc.Prefix != s.opts.Prefix) {
		err = fmt.Errorf("format %q, prefix %q; want %q, %q", doc.Format, doc.Prefix, snapshotFormat, s.opts.Prefix)
	}
	if err != nil {
		note("snapshot %s unusable (%v); serving an empty table until etcd answers", path, err)
		return
	}
	entries := s.parseSnapshot(path, doc)
	s.state.Replace(doc.Revision, entries)
	s.state.ReplaceCertificates(doc.Revision, s.parseSnapshotCerts(path, doc))
	note("serving the snapshot %s of revision %d written %s (%d services) until etcd answers",
		path, doc.Revision, doc.Written.Format(time.RFC3339), len(entries))
}

// snapshotBad reports a snapshot entry that does not parse.
func (s *Store) snapshotBad(path, what string, err error) {
	s.log.Warn("etcd registry: skipped a bad snapshot entry", "file", path, "entry", what, "err", err)
	if s.opts.OnBadEntry != nil {
		s.opts.OnBadEntry(path+":"+what, err)
	}
}

func (s *Store) parseSnapshotCerts(path string, doc snapshotDoc) []*catalog.Certificate {
	var out []*catalog.Certificate
	for i, raw := range doc.Certificates {
		c, err := catalog.ParseCertificate(raw)
		if err != nil {
			s.snapshotBad(path, fmt.Sprintf("certificates[%d]", i), err)
			continue
		}
		out = append(out, c)
	}
	return out
}

func (s *Store) parseSnapshot(path string, doc snapshotDoc) []*catalog.Entry {
	bad := func(what string, err error) { s.snapshotBad(path, what, err) }
	var out []*catalog.Entry
	for i, raw := range doc.Services {
		var se snapshotEntry
		if err := json.Unmarshal(raw, &se); err != nil {
			bad(fmt.Sprintf("services[%d]", i), err)
			continue
		}
		svc, err := catalog.ParseService(se.Service)
		if err != nil {
			bad(fmt.Sprintf("services[%d]", i), err)
			continue
		}
		e := &catalog.Entry{Service: svc}
		for j, rawIn := range se.Instances {
			in, err := catalog.ParseInstance(rawIn)
			if err != nil {
				bad(fmt.Sprintf("%s/instances[%d]", svc.Name, j), err)
				continue
			}
			e.Instances = append(e.Instances, in)
		}
		slices.SortFunc(e.Instances, func(a, b catalog.Instance) int { return strings.Compare(a.ID, b.ID) })
		e.Instances = slices.CompactFunc(e.Instances, func(a, b catalog.Instance) bool { return a.ID == b.ID })
		out = append(out, e)
	}
	return out
}
