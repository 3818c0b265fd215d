package embedded

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/registry"
)

// FileName is the name of the database file inside the data directory.
const FileName = "webrouter.db"

// lockTimeout is how long Open waits for another process to release the
// file before it gives up with ErrLocked.
const lockTimeout = time.Second

// ErrLocked is returned (wrapped) by Open when another process holds the
// database file.
var ErrLocked = errors.New("locked by another webrouter process")

// Bucket and key names; see the package documentation for the layout.
var (
	metaBucket      = []byte("meta")
	servicesBucket  = []byte("services")
	instancesBucket = []byte("instances")
	certsBucket     = []byte("certificates")
	revKey          = []byte("rev")
)

// Options configures Open. The zero value is ready to use.
type Options struct {
	// Logger receives load warnings; nil discards them.
	Logger *slog.Logger
	// OnBadEntry, if set, is called once for each corrupt entry skipped at
	// load (e.g. to count it in a metric), with the key as described in the
	// package documentation. It is called from Open, before Open returns.
	OnBadEntry func(key string, err error)
	// LeaseCheck is how often instances whose TTL ran out are removed;
	// 0 means DefaultLeaseCheck.
	LeaseCheck time.Duration
	// NoSync skips the fsync after each commit. Writes become much faster,
	// but a machine crash or power loss may lose recently acknowledged
	// writes or corrupt the file. For benchmarks and tests only.
	NoSync bool
}

// Store is the embedded registry. It implements registry.Store and is safe
// for concurrent use. Reads go to State(); writes go to disk first.
type Store struct {
	dir   string
	opts  Options
	state *catalog.State

	mu        sync.Mutex // serialises writes, Close and the hand-off
	db        *bolt.DB   // nil after Close or Suspend
	suspended bool       // the file is handed over to a new process (see Suspend)
	leases    leaseTable // instance deadlines, under mu
}

var _ registry.Store = (*Store)(nil)

// Open opens (creating if needed) the registry in dir and loads it into a
// new State. dir is created with mode 0700 if missing. Bad entries are
// skipped as described in the package documentation; Open fails only if
// the directory or file cannot be opened, is locked by another process
// (ErrLocked, after about a second), or its layout is damaged.
func Open(dir string, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	db, l, err := openDB(dir, opts)
	if err != nil {
		return nil, err
	}
	s := &Store{dir: dir, opts: opts, state: catalog.NewState(), db: db}
	s.state.Replace(l.rev, l.entries)
	s.state.ReplaceCertificates(l.rev, l.certs)
	s.startLeases(l.entries, opts.LeaseCheck, opts.Logger)
	l.warnConflicts(s.state)
	return s, nil
}

// openDB opens the database file in dir, creates the top-level buckets and
// loads every entry.
func openDB(dir string, opts Options) (*bolt.DB, *loader, error) {
	log := opts.Logger
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("open registry data dir %q: %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	bo := *bolt.DefaultOptions
	bo.Timeout = lockTimeout
	bo.NoSync = opts.NoSync
	db, err := bolt.Open(path, 0o600, &bo)
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, nil, fmt.Errorf("open registry data dir %q: %w (stop the other process, or wait and retry)", dir, ErrLocked)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("open registry data dir %q: %s: %w", dir, path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{metaBucket, servicesBucket, instancesBucket, certsBucket} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %q: %w", name, err)
			}
		}
		return nil
	})
	l := &loader{log: log, onBad: opts.OnBadEntry}
	if err == nil {
		err = db.View(l.load)
	}
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("open registry data dir %q: %s: %w", dir, path, err)
	}
	log.Info("embedded registry loaded", "path", path, "rev", l.rev,
		"services", len(l.entries), "instances", l.instances, "certificates", len(l.certs), "skipped", l.skipped)
	return db, l, nil
}

// Kind returns "embedded".
func (s *Store) Kind() string { return "embedded" }

// State returns the mirrored state. It stays readable after Close.
func (s *Store) State() *catalog.State { return s.state }

// Close closes the database file. Writes after Close fail with an error
// wrapping registry.ErrUnavailable. Close is idempotent.
func (s *Store) Close() error {
	s.stopLeases()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return nil
	}
	err := s.db.Close()
	s.db = nil
	if err != nil {
		return fmt.Errorf("close registry data dir %q: %w", s.dir, err)
	}
	return nil
}

// PutService creates or replaces svc, keeping its instances. It returns the
// *catalog.ConflictError unchanged if another service claims one of svc's
// mountpoints. Creating a service clears any instances left on disk under
// its name by an entry skipped at load.
func (s *Store) PutService(ctx context.Context, svc catalog.Service) (created bool, rev uint64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(ctx); err != nil {
		return false, 0, err
	}
	if err := s.state.CheckService(svc); err != nil {
		return false, 0, err
	}
	data, err := json.Marshal(svc)
	if err != nil {
		return false, 0, fmt.Errorf("put service %q: encode: %w", svc.Name, err)
	}
	_, exists := s.state.Get(svc.Name)
	rev, err = s.commit(func(b buckets) error {
		if !exists {
			if err := clearKey(b.instances, []byte(svc.Name)); err != nil {
				return err
			}
		}
		return putValue(b.services, []byte(svc.Name), data)
	})
	if err != nil {
		return false, 0, fmt.Errorf("put service %q: %w", svc.Name, err)
	}
	return s.state.PutService(rev, svc), rev, nil
}

// DeleteService removes the named service and all its instances. The error
// wraps catalog.ErrNotFound if there is no such service.
func (s *Store) DeleteService(ctx context.Context, name string) (rev uint64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(ctx); err != nil {
		return 0, err
	}
	if _, ok := s.state.Get(name); !ok {
		return 0, fmt.Errorf("delete service %q: %w", name, catalog.ErrNotFound)
	}
	rev, err = s.commit(func(b buckets) error {
		if err := b.services.Delete([]byte(name)); err != nil {
			return err
		}
		return clearKey(b.instances, []byte(name))
	})
	if err != nil {
		return 0, fmt.Errorf("delete service %q: %w", name, err)
	}
	s.state.DeleteService(rev, name)
	s.untrackService(name)
	return rev, nil
}

// PutInstance creates or replaces an instance of an existing service. The
// error wraps catalog.ErrNotFound if the service does not exist.
func (s *Store) PutInstance(ctx context.Context, service string, in catalog.Instance) (created bool, rev uint64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(ctx); err != nil {
		return false, 0, err
	}
	if _, ok := s.state.Get(service); !ok {
		return false, 0, fmt.Errorf("put instance %q: service %q: %w", in.ID, service, catalog.ErrNotFound)
	}
	created, rev, err = s.putInstanceLocked(service, in)
	if err == nil {
		s.track(service, in) // a registration starts a full TTL
	}
	return created, rev, err
}

// putInstanceLocked writes an instance of an existing service. s.mu must be
// held.
func (s *Store) putInstanceLocked(service string, in catalog.Instance) (created bool, rev uint64, err error) {
	data, err := json.Marshal(in)
	if err != nil {
		return false, 0, fmt.Errorf("put instance %q of service %q: encode: %w", in.ID, service, err)
	}
	rev, err = s.commit(func(b buckets) error {
		ib, err := nestedBucket(b.instances, []byte(service))
		if err != nil {
			return err
		}
		return putValue(ib, []byte(in.ID), data)
	})
	if err != nil {
		return false, 0, fmt.Errorf("put instance %q of service %q: %w", in.ID, service, err)
	}
	// Cannot fail: the service exists and only this Store (under s.mu)
	// writes the State.
	created, err = s.state.PutInstance(rev, service, in)
	return created, rev, err
}

// SetInstanceState changes an instance's administrative state and nothing
// else. The error wraps catalog.ErrNotFound if the service or the instance
// does not exist.
func (s *Store) SetInstanceState(ctx context.Context, service, id string, state catalog.InstanceState) (catalog.Instance, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(ctx); err != nil {
		return catalog.Instance{}, 0, err
	}
	in, err := s.instanceLocked(service, id)
	if err != nil {
		return catalog.Instance{}, 0, fmt.Errorf("set state of instance %q: %w", id, err)
	}
	in.State = state
	_, rev, err := s.putInstanceLocked(service, in)
	return in, rev, err
}

// Status is always "ok": the embedded store is local.
func (s *Store) Status() registry.Status { return registry.Status{State: "ok"} }

// instanceLocked returns a stored instance. s.mu must be held.
func (s *Store) instanceLocked(service, id string) (catalog.Instance, error) {
	e, ok := s.state.Get(service)
	if !ok {
		return catalog.Instance{}, fmt.Errorf("service %q: %w", service, catalog.ErrNotFound)
	}
	in, ok := e.Instance(id)
	if !ok {
		return catalog.Instance{}, fmt.Errorf("instance %q of service %q: %w", id, service, catalog.ErrNotFound)
	}
	return in, nil
}

// DeleteInstance removes one instance. The error wraps catalog.ErrNotFound
// if the service or the instance does not exist.
func (s *Store) DeleteInstance(ctx context.Context, service, id string) (rev uint64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(ctx); err != nil {
		return 0, err
	}
	e, ok := s.state.Get(service)
	if !ok {
		return 0, fmt.Errorf("delete instance %q: service %q: %w", id, service, catalog.ErrNotFound)
	}
	if _, ok := e.Instance(id); !ok {
		return 0, fmt.Errorf("delete instance %q of service %q: %w", id, service, catalog.ErrNotFound)
	}
	return s.deleteInstanceLocked(service, id)
}

// deleteInstanceLocked removes an existing instance. s.mu must be held.
func (s *Store) deleteInstanceLocked(service, id string) (rev uint64, err error) {
	rev, err = s.commit(func(b buckets) error {
		if ib := b.instances.Bucket([]byte(service)); ib != nil {
			return ib.Delete([]byte(id))
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete instance %q of service %q: %w", id, service, err)
	}
	s.state.DeleteInstance(rev, service, id)
	s.untrack(service, id)
	return rev, nil
}

// writable reports why a write cannot start: a done ctx or a closed store.
// s.mu must be held.
func (s *Store) writable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.suspended {
		return fmt.Errorf("embedded registry %q is being handed over to a new webrouter process (upgrade in progress): %w", s.dir, registry.ErrUnavailable)
	}
	if s.db == nil {
		return fmt.Errorf("embedded registry %q is closed: %w", s.dir, registry.ErrUnavailable)
	}
	return nil
}

// buckets are the top-level buckets of one transaction.
type buckets struct {
	meta, services, instances, certs *bolt.Bucket
}

// commit runs write in one transaction that also bumps meta/rev, and
// returns the new revision once the transaction has committed. s.mu must
// be held.
func (s *Store) commit(write func(buckets) error) (uint64, error) {
	var rev uint64
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := buckets{tx.Bucket(metaBucket), tx.Bucket(servicesBucket), tx.Bucket(instancesBucket), tx.Bucket(certsBucket)}
		if b.meta == nil || b.services == nil || b.instances == nil || b.certs == nil {
			return errors.New("database file is missing a top-level bucket")
		}
		cur, err := decodeRev(b.meta.Get(revKey))
		if err != nil {
			return err
		}
		rev = cur + 1
		if err := b.meta.Put(revKey, binary.BigEndian.AppendUint64(nil, rev)); err != nil {
			return err
		}
		return write(b)
	})
	if err != nil {
		return 0, err
	}
	return rev, nil
}

// decodeRev decodes meta/rev; nil (absent) is revision 0.
func decodeRev(v []byte) (uint64, error) {
	if v == nil {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("meta/rev is %d bytes, want 8: the file is damaged; fix the key with the bbolt tool or restore a backup", len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// putValue sets key to a plain value, first removing a nested bucket that
// a damaged file may hold under that key.
func putValue(b *bolt.Bucket, key, value []byte) error {
	if b.Bucket(key) != nil {
		if err := b.DeleteBucket(key); err != nil {
			return err
		}
	}
	return b.Put(key, value)
}

// nestedBucket returns the nested bucket at key, creating it, and first
// removing a plain value that a damaged file may hold under that key.
func nestedBucket(b *bolt.Bucket, key []byte) (*bolt.Bucket, error) {
	if nb := b.Bucket(key); nb != nil {
		return nb, nil
	}
	if err := b.Delete(key); err != nil {
		return nil, err
	}
	return b.CreateBucket(key)
}

// clearKey removes whatever key holds, value or nested bucket.
func clearKey(b *bolt.Bucket, key []byte) error {
	if b.Bucket(key) != nil {
		return b.DeleteBucket(key)
	}
	return b.Delete(key)
}
