// Package etcd keeps webrouter's registry in an etcd cluster, so that any
// number of routers share it: a write through one router's admin API is
// seen by all of them.
//
// # Key layout
//
// Under a prefix (default "/webrouter"; the path of the --registry URL):
//
//	<prefix>/services/<name>            JSON of catalog.Service ("name" equals <name>)
//	<prefix>/instances/<service>/<id>   JSON of catalog.Instance ("id" equals <id>);
//	                                    attached to an etcd lease when the instance has a TTL
//	<prefix>/mountpoints/<escaped>      the name of the service that claims the canonical
//	                                    mountpoint (url.PathEscape'd, e.g. "lain.demo.com%2Fhello")
//	<prefix>/certificates/<name>        JSON of catalog.Certificate ("name" equals <name>):
//	                                    the PEM chain and the PEM private key
//
// Certificates carry private keys: run etcd with TLS (client and peer) and
// authentication, and give the routers' user access to the prefix only, so
// that the keys are neither sent in the clear nor readable by other
// clients. The snapshot (below) holds them too and is written mode 0600.
//
// Other tools may read and write these keys (etcdctl). Every value goes
// through catalog.ParseService, ParseInstance or ParseCertificate; a value that does not
// parse, whose key does not match the name or id inside, an unknown key,
// or an instance whose service is missing is logged once (per revision of
// the key), reported to Options.OnBadEntry and skipped; never fatal. A key
// whose value turns bad is treated as absent, so every router that has
// seen the same revisions holds the same state.
//
// # Writes
//
// Every write is one etcd transaction, so it is atomic and its revision is
// the etcd revision. An instance put requires the service key to exist; a
// service delete removes its instances and claims in the same transaction.
// A service put reads the claim keys of its mountpoints (and the services
// they name) and commits only if none of the keys it read has changed
// since: of two routers racing for one mountpoint exactly one succeeds and
// the other gets a *catalog.ConflictError (409). A claim whose owner no
// longer exists or no longer lists the mountpoint is stale and may be
// taken. Services written by other tools without claim keys are still
// checked, against the router's mirror. A write returns once the router's
// own watch has applied its revision to the State.
//
// # Watch
//
// One goroutine lists the prefix (a consistent Get at one revision,
// State.Replace) and then watches it from the revision after the last one
// applied. Events are applied one revision (one transaction) at a time, in
// order; a revision already applied is skipped. A broken watch resumes
// from the last applied revision + 1; if that revision was compacted away
// the prefix is listed again.
//
// # Degraded mode
//
// A prober reads one key with a linearizable Get (which needs a quorum)
// every ProbeInterval. While it fails, or before the first listing, Status
// is "degraded": the State keeps the last mirrored registry (the router
// keeps routing), writes fail at once with registry.ErrUnavailable, and
// the change is logged once. When etcd answers again the watch restarts
// from the last applied revision and catches up. Leases are expired by
// etcd alone, so a router cut off from etcd never removes anything.
//
// # Snapshot
//
// Whenever the State changes (debounced by SnapshotDelay) the router
// writes the whole registry to <DataDir>/snapshot.json (temporary file,
// fsync, rename). If etcd does not answer within StartTimeout at start,
// Open loads that snapshot, serves it degraded and keeps trying; the first
// listing replaces it.
package etcd
