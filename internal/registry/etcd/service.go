package etcd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/webrouter/webrouter/internal/catalog"
)

// MaxMountpoints bounds a service's mountpoints with this registry: a
// write is one etcd transaction, and etcd allows 128 operations in one
// (--max-txn-ops).
const MaxMountpoints = 50

// maxAttempts bounds the optimistic retries of one write when other
// writers keep changing the keys it read.
const maxAttempts = 8

// snapshot is a consistent read of some keys: key → value, nil when absent.
type snapshot map[string]*mvccpb.KeyValue

// read reads keys (those not yet in into) at one revision, adds them to
// into and returns the revision.
func read(ctx context.Context, cli *clientv3.Client, into snapshot, keys ...string) (int64, error) {
	var ops []clientv3.Op
	var asked []string
	for _, k := range keys {
		if _, ok := into[k]; !ok && !slices.Contains(asked, k) {
			ops = append(ops, clientv3.OpGet(k))
			asked = append(asked, k)
		}
	}
	if len(ops) == 0 {
		return 0, nil
	}
	resp, err := cli.Txn(ctx).Then(ops...).Commit()
	if err != nil {
		return 0, err
	}
	for i, r := range resp.Responses {
		into[asked[i]] = nil
		if kvs := r.GetResponseRange().Kvs; len(kvs) > 0 {
			into[asked[i]] = kvs[0]
		}
	}
	return resp.Header.Revision, nil
}

// unchanged is the compare of a transaction that must see every key of sn
// as it was read (ModRevision 0 for a key that was absent).
func (sn snapshot) unchanged() []clientv3.Cmp {
	out := make([]clientv3.Cmp, 0, len(sn))
	for k, kv := range sn {
		var rev int64
		if kv != nil {
			rev = kv.ModRevision
		}
		out = append(out, clientv3.Compare(clientv3.ModRevision(k), "=", rev))
	}
	return out
}

// service parses service name as stored in sn; ok is false when it is
// absent or does not parse.
func (sn snapshot) service(k keys, name string) (catalog.Service, bool) {
	kv := sn[k.service(name)]
	if kv == nil {
		return catalog.Service{}, false
	}
	svc, err := parseService(name, kv.Value)
	return svc, err == nil
}

// PutService creates or replaces svc, keeping its instances. A mountpoint
// is claimed by creating its claim key in the same transaction that writes
// the service, on condition that every key read meanwhile is unchanged, so
// of two routers racing for one mountpoint exactly one succeeds; the other
// gets the *catalog.ConflictError. Creating a service removes instances
// left under its name by other tools.
func (s *Store) PutService(ctx context.Context, svc catalog.Service) (bool, uint64, error) {
	op := fmt.Sprintf("put service %q", svc.Name)
	if len(svc.Mountpoints) > MaxMountpoints {
		return false, 0, &catalog.FieldError{Field: "mountpoints",
			Problem: fmt.Sprintf("%d mountpoints; the etcd registry allows at most %d per service", len(svc.Mountpoints), MaxMountpoints)}
	}
	cli, err := s.writable(ctx, op)
	if err != nil {
		return false, 0, err
	}
	data, err := json.Marshal(svc)
	if err != nil {
		return false, 0, fmt.Errorf("%s: encode: %w", op, err)
	}
	var created *bool // as planned by the first attempt that may have committed
	var rev int64
	err = s.do(ctx, op, func(ctx context.Context, t *tries) error {
		txn, c, err := s.planPutService(ctx, cli, svc, string(data))
		if err != nil {
			return err
		}
		resp, err := txn.Commit()
		if err == nil && !resp.Succeeded {
			return errChanged
		}
		if created == nil {
			created = &c
		}
		if err != nil {
			t.ambiguous = true
			return fromEtcd(err)
		}
		rev = resp.Header.Revision
		return nil
	})
	if err != nil {
		return false, 0, err
	}
	return *created, s.settle(ctx, rev), nil
}

// planPutService reads what PutService depends on and returns the
// conditional transaction that performs it, or the conflict.
func (s *Store) planPutService(ctx context.Context, cli *clientv3.Client, svc catalog.Service, data string) (clientv3.Txn, bool, error) {
	self := s.keys.service(svc.Name)
	sn := snapshot{}
	first := []string{self}
	for _, m := range svc.Mountpoints {
		first = append(first, s.keys.mountpoint(m))
	}
	if _, err := read(ctx, cli, sn, first...); err != nil {
		return nil, false, fromEtcd(err)
	}
	old, hadOld := sn.service(s.keys, svc.Name)
	released := []string{}
	for _, m := range old.Mountpoints {
		if !slices.Contains(svc.Mountpoints, m) {
			released = append(released, m)
		}
	}
	// Second read: the released claims, and the services that hold or
	// (written without a claim by another tool) list our mountpoints.
	var second []string
	for _, m := range released {
		second = append(second, s.keys.mountpoint(m))
	}
	for _, m := range svc.Mountpoints {
		if owner := s.claimant(sn, m, svc.Name); owner != "" {
			second = append(second, s.keys.service(owner))
		}
	}
	if _, err := read(ctx, cli, sn, second...); err != nil {
		return nil, false, fromEtcd(err)
	}
	var ops []clientv3.Op
	for _, m := range svc.Mountpoints {
		if owner := s.claimant(sn, m, svc.Name); owner != "" {
			if other, ok := sn.service(s.keys, owner); ok && slices.Contains(other.Mountpoints, m) {
				return nil, false, &catalog.ConflictError{Mountpoint: m, Owner: owner}
			}
		}
		if kv := sn[s.keys.mountpoint(m)]; kv == nil || string(kv.Value) != svc.Name {
			ops = append(ops, clientv3.OpPut(s.keys.mountpoint(m), svc.Name))
		}
	}
	for _, m := range released {
		if kv := sn[s.keys.mountpoint(m)]; kv != nil && string(kv.Value) == svc.Name {
			ops = append(ops, clientv3.OpDelete(s.keys.mountpoint(m)))
		}
	}
	// A service that is absent or does not parse is not in the State:
	// writing it creates it, as in the embedded store.
	created := !hadOld
	if created {
		ops = append(ops, clientv3.OpDelete(s.keys.instances(svc.Name), clientv3.WithPrefix()))
	}
	ops = append(ops, clientv3.OpPut(self, data))
	return cli.Txn(ctx).If(sn.unchanged()...).Then(ops...), created, nil
}

// claimant returns the other service that claims mountpoint m: the owner
// named by its claim key, or, when there is no claim key, the service this
// router's mirror lists it under. "" when none.
func (s *Store) claimant(sn snapshot, m, self string) string {
	if kv := sn[s.keys.mountpoint(m)]; kv != nil {
		if owner := string(kv.Value); owner != self {
			return owner
		}
		return ""
	}
	var ce *catalog.ConflictError
	if errors.As(s.state.CheckService(catalog.Service{Name: self, Mountpoints: []string{m}}), &ce) {
		return ce.Owner
	}
	return ""
}

// DeleteService removes a service, its instances and its mountpoint
// claims in one transaction, and revokes the instances' leases. The error
// wraps catalog.ErrNotFound if there is no such service.
func (s *Store) DeleteService(ctx context.Context, name string) (uint64, error) {
	op := fmt.Sprintf("delete service %q", name)
	cli, err := s.writable(ctx, op)
	if err != nil {
		return 0, err
	}
	self := s.keys.service(name)
	var rev int64
	err = s.do(ctx, op, func(ctx context.Context, t *tries) error {
		sn := snapshot{}
		readRev, err := read(ctx, cli, sn, self)
		if err != nil {
			return fromEtcd(err)
		}
		if sn[self] == nil {
			if t.ambiguous { // an earlier attempt did delete it
				rev = readRev
				return nil
			}
			return fmt.Errorf("%s: %w", op, catalog.ErrNotFound)
		}
		old, _ := sn.service(s.keys, name)
		var claims []string
		for _, m := range old.Mountpoints {
			claims = append(claims, s.keys.mountpoint(m))
		}
		if _, err := read(ctx, cli, sn, claims...); err != nil {
			return fromEtcd(err)
		}
		ops := []clientv3.Op{
			clientv3.OpDelete(self),
			clientv3.OpDelete(s.keys.instances(name), clientv3.WithPrefix(), clientv3.WithPrevKV()),
		}
		for _, k := range claims {
			if kv := sn[k]; kv != nil && string(kv.Value) == name {
				ops = append(ops, clientv3.OpDelete(k))
			}
		}
		resp, err := cli.Txn(ctx).If(sn.unchanged()...).Then(ops...).Commit()
		if err != nil {
			t.ambiguous = true
			return fromEtcd(err)
		}
		if !resp.Succeeded {
			return errChanged
		}
		var leases []clientv3.LeaseID
		for _, kv := range resp.Responses[1].GetResponseDeleteRange().PrevKvs {
			leases = append(leases, clientv3.LeaseID(kv.Lease))
		}
		s.revoke(cli, leases...)
		rev = resp.Header.Revision
		return nil
	})
	if err != nil {
		return 0, err
	}
	return s.settle(ctx, rev), nil
}
