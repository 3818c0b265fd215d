// Package embedded is webrouter's default registry: services and instances
// kept in a bbolt file in the router's data directory, mirrored into a
// catalog.State. It needs no other process, and a restarted router finds
// the registry as it left it.
//
// # On-disk layout
//
// The file is dir/webrouter.db (mode 0600, dir created 0700; it holds TLS
// private keys). It holds four top-level buckets:
//
//	meta                     bucket
//	  rev                    uint64, big-endian: the registry revision,
//	                         +1 per successful write (absent = 0)
//	services                 bucket
//	  <service name>         JSON of catalog.Service
//	instances                bucket
//	  <service name>         nested bucket, one per service that has had instances
//	    <instance id>        JSON of catalog.Instance
//	certificates             bucket
//	  <certificate name>     JSON of catalog.Certificate (chain and key, PEM)
//
// Keys are the bare names and ids; each value repeats its key inside the
// JSON ("name" or "id"), and the two must agree.
//
// # Loading and bad entries
//
// Open reads the whole file. Every service goes through catalog.ParseService
// every instance through catalog.ParseInstance and every certificate through
// catalog.ParseCertificate. An entry that fails, whose
// key does not match the name or id inside it, an instance bucket whose
// service is missing or was itself skipped, a plain value where a bucket
// belongs or a bucket where a value belongs, is logged (one Warn line naming
// the key and the error), reported to Options.OnBadEntry and skipped;
// everything else loads. The keys reported are "services/<name>",
// "instances/<service>" (the whole bucket), "instances/<service>/<id>" and
// "certificates/<name>".
// Nothing is deleted from disk at load, so the operator can inspect it (for
// example with the bbolt command-line tool). A later write of the same key
// through the Store replaces the bad entry; creating a service also clears
// any instances left under its name.
//
// Open fails, rather than skipping, when the layout itself is damaged: a
// meta/rev value that is not 8 bytes. The file is locked while open; a second
// Open of the same directory fails after about a second with ErrLocked.
//
// # Writes
//
// Each write holds a store-wide mutex, checks against the State (mountpoint
// conflicts, existence), commits one bbolt transaction that bumps meta/rev
// and writes the change, and only then applies the change to the State at
// the new revision. On error nothing changed, on disk or in the State. The
// State must not be written by anyone but the Store.
//
// # Leases
//
// An instance written with a TTL must be renewed (Heartbeat) within it,
// or an expiry loop (every Options.LeaseCheck) deletes it through the
// normal write path, so the deletion is committed, revisioned and routed
// like any other. PutInstance starts a full TTL; SetInstanceState does not
// renew. Deadlines are kept in memory only: after a restart every leased
// instance gets a full TTL again, so a router that was down does not
// expire instances whose owners could not reach it meanwhile.
package embedded
