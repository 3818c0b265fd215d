package etcd

import (
	"context"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/webrouter/webrouter/internal/catalog"
)

// Backoff between attempts to connect, list or watch.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 2 * time.Second
)

// run connects, lists the prefix once, then watches it from the revision
// after the last one applied, for as long as the store is open. A watch
// that breaks resumes from there; a watch whose revision was compacted
// away lists the prefix again and replaces the State.
func (s *Store) run() {
	defer s.wg.Done()
	backoff := minBackoff
	pause := func() {
		select {
		case <-s.ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
	for s.cli.Load() == nil {
		// Without credentials this returns at once and dials in the
		// background; with them it waits until etcd authenticates us.
		cli, err := clientv3.New(s.cfg)
		if err == nil {
			s.cli.Store(cli)
			break
		}
		if s.ctx.Err() != nil {
			return
		}
		s.trouble("connect", err)
		pause()
	}
	cli := s.cli.Load()
	needList := true
	failures := 0 // watches in a row that ended without an event
	for s.ctx.Err() == nil {
		if needList {
			if err := s.list(cli); err != nil {
				if s.ctx.Err() == nil {
					s.trouble("list the registry", err)
				}
				pause()
				continue
			}
			needList = false
		}
		var progressed bool
		var err error
		needList, progressed, err = s.watch(cli)
		s.mu.Lock()
		kicked := s.kicked
		s.kicked = false
		s.mu.Unlock()
		switch {
		case progressed || kicked:
			backoff, failures = minBackoff, 0
		case err != nil && s.ctx.Err() == nil:
			if failures++; failures >= 5 {
				s.trouble("watch (the table may be stale)", err)
			} else {
				s.log.Debug("etcd registry: watch ended; resuming", "from", s.appliedRev()+1, "err", err)
			}
		}
		if !needList && !kicked {
			pause()
		}
	}
}

// trouble logs a failure of the background sync at Warn, once per
// distinct message, and keeps it for Status until the next success.
func (s *Store) trouble(what string, err error) {
	msg := what + ": " + err.Error()
	s.health.Lock()
	same := msg == s.syncErr
	s.syncErr = msg
	s.health.Unlock()
	if !same {
		s.log.Warn("etcd registry: "+what+" failed; retrying", "err", err)
	}
}

// listTimeout bounds one range request of a listing.
const listTimeout = 10 * time.Second

// list reads the whole prefix at one revision and makes the State equal
// to it.
func (s *Store) list(cli *clientv3.Client) error {
	kvs, rev, err := s.listAll(cli)
	if err != nil {
		return err
	}
	s.mu.Lock()
	entries := s.mir.load(kvs)
	old := s.state.Rev()
	s.state.Replace(uint64(rev), entries)
	s.state.ReplaceCertificates(uint64(rev), s.mir.certList())
	wasListed := s.listed
	s.listed = true
	s.applied = rev // a listing may go back: etcd restored from a backup
	s.advance(rev)
	s.mu.Unlock()
	if uint64(rev) < old {
		s.log.Warn("etcd registry: etcd's revision is behind the one this router last saw (etcd restored or replaced?); the registry is as etcd lists it",
			"revision", rev, "last_seen", old)
	}
	s.log.Info("etcd registry listed", "revision", rev, "keys", len(kvs), "services", len(entries), "first", !wasListed)
	s.clearTrouble()
	s.setProbe(nil) // a linearizable read just succeeded

	return nil
}

// listAll reads every key under the prefix, in range requests of
// Options.ListPage keys: one request for 100 000 instances would have the
// member build and send some 20 MB at once. The pages after the first
// read at the first one's revision, so the listing is one consistent
// picture; should that revision be compacted away meanwhile, the request
// fails and run lists again. Pages are large because etcd counts the keys
// left in the range for each one: 100 000 instances (etcd 3.4, one member)
// listed in 1.1 s in one request, 1.1–1.2 s in pages of 10 000 and 3.3 s
// in pages of 1 000.
func (s *Store) listAll(cli *clientv3.Client) ([]*mvccpb.KeyValue, int64, error) {
	key := s.keys.all()
	end := clientv3.GetPrefixRangeEnd(key)
	var kvs []*mvccpb.KeyValue
	var rev int64
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(int64(s.opts.ListPage))}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		ctx, cancel := context.WithTimeout(s.ctx, listTimeout)
		resp, err := cli.Get(ctx, key, opts...)
		cancel()
		if err != nil {
			return nil, 0, err
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		kvs = append(kvs, resp.Kvs...)
		if !resp.More || len(resp.Kvs) == 0 {
			return kvs, rev, nil
		}
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00" // the next key after the page's last
	}
}

// watch applies the prefix's changes from the revision after the last
// applied until the watch ends. It reports whether the store must list
// again (the revision was compacted) and whether any event arrived.
func (s *Store) watch(cli *clientv3.Client) (needList, progressed bool, err error) {
	// RequireLeader: a member cut off from its cluster ends the watch
	// instead of leaving it silent.
	ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(s.ctx))
	defer cancel()
	s.mu.Lock()
	from := s.applied + 1
	s.kickW = cancel
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.kickW = nil
		s.mu.Unlock()
	}()
	wch := cli.Watch(ctx, s.keys.all(), clientv3.WithPrefix(), clientv3.WithRev(from), clientv3.WithProgressNotify())
	for resp := range wch {
		if resp.CompactRevision != 0 {
			s.log.Warn("etcd registry: the watch fell behind a compaction; listing the registry again",
				"from", from, "compacted", resp.CompactRevision)
			return true, progressed, nil
		}
		if err := resp.Err(); err != nil {
			return false, progressed, err
		}
		if len(resp.Events) > 0 {
			s.apply(resp.Events)
			if !progressed {
				s.clearTrouble()
			}
			progressed = true
		}
	}
	return false, progressed, nil
}

func (s *Store) clearTrouble() {
	s.health.Lock()
	s.syncErr = ""
	s.health.Unlock()
}

// restartWatch ends the current watch; run starts the next one from the
// revision after the last applied.
func (s *Store) restartWatch() {
	s.mu.Lock()
	if s.kickW != nil {
		s.kicked = true
		s.kickW()
	}
	s.mu.Unlock()
}

func (s *Store) appliedRev() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.applied
}

// apply applies watch events in revision order, one revision (one etcd
// transaction) at a time; a revision already applied is skipped, so no
// change is applied twice.
func (s *Store) apply(evs []*clientv3.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < len(evs); {
		rev := evs[i].Kv.ModRevision
		j := i
		var group []event
		for ; j < len(evs) && evs[j].Kv.ModRevision == rev; j++ {
			group = append(group, event{kv: evs[j].Kv, delete: evs[j].Type == mvccpb.DELETE})
		}
		i = j
		if rev <= s.applied {
			continue
		}
		for name := range s.mir.apply(group) {
			s.state.Set(uint64(rev), name, s.mir.entry(name))
		}
		for name := range s.mir.certsHit {
			s.state.SetCertificate(uint64(rev), name, s.mir.certs[name])
		}
		s.state.Advance(uint64(rev))
		s.advance(rev)
	}
}

// entries returns the State's entries and certificates (for the snapshot).
func (s *Store) entries() (uint64, []*catalog.Entry, []*catalog.Certificate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.Rev(), s.state.List(), s.state.Certificates()
}
