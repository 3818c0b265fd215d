package etcd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/webrouter/webrouter/internal/catalog"
)

// PutInstance creates or replaces an instance of an existing service; the
// transaction requires the service key to exist. An instance with a TTL is
// written with a new etcd lease of that TTL (in whole seconds, rounded up;
// etcd may raise a very short TTL to its minimum): etcd deletes the key
// when the lease is not renewed (Heartbeat). A lease the key held before
// is revoked.
func (s *Store) PutInstance(ctx context.Context, service string, in catalog.Instance) (bool, uint64, error) {
	op := fmt.Sprintf("put instance %q of service %q", in.ID, service)
	cli, err := s.writable(ctx, op)
	if err != nil {
		return false, 0, err
	}
	data, err := json.Marshal(in)
	if err != nil {
		return false, 0, fmt.Errorf("%s: encode: %w", op, err)
	}
	var created *bool // as seen by the first attempt that may have committed
	var rev int64
	err = s.do(ctx, op, func(ctx context.Context, t *tries) error {
		opts := []clientv3.OpOption{clientv3.WithPrevKV()}
		var lease clientv3.LeaseID
		if ttl := time.Duration(in.TTL); ttl > 0 {
			g, err := cli.Grant(ctx, int64((ttl+time.Second-1)/time.Second))
			if err != nil {
				return fromEtcd(fmt.Errorf("grant a lease: %w", err))
			}
			lease = g.ID
			opts = append(opts, clientv3.WithLease(lease))
		}
		resp, err := cli.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(s.keys.service(service)), ">", 0)).
			Then(clientv3.OpPut(s.keys.instance(service, in.ID), string(data), opts...)).
			Commit()
		if err != nil {
			t.ambiguous = true // the lease is left to expire: the key may hold it
			return fromEtcd(err)
		}
		if !resp.Succeeded {
			s.revoke(cli, lease)
			return fmt.Errorf("%s: service %q: %w", op, service, catalog.ErrNotFound)
		}
		prev := resp.Responses[0].GetResponsePut().PrevKv
		if prev != nil && prev.Lease != int64(lease) {
			s.revoke(cli, clientv3.LeaseID(prev.Lease))
		}
		if created == nil {
			c := prev == nil
			created = &c
		}
		rev = resp.Header.Revision
		return nil
	})
	if err != nil {
		return false, 0, err
	}
	return *created, s.settle(ctx, rev), nil
}

// DeleteInstance removes one instance and revokes its lease. The error
// wraps catalog.ErrNotFound if the instance does not exist.
func (s *Store) DeleteInstance(ctx context.Context, service, id string) (uint64, error) {
	op := fmt.Sprintf("delete instance %q of service %q", id, service)
	cli, err := s.writable(ctx, op)
	if err != nil {
		return 0, err
	}
	key := s.keys.instance(service, id)
	var rev int64
	err = s.do(ctx, op, func(ctx context.Context, t *tries) error {
		resp, err := cli.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(key), ">", 0)).
			Then(clientv3.OpDelete(key, clientv3.WithPrevKV())).
			Commit()
		if err != nil {
			t.ambiguous = true
			return fromEtcd(err)
		}
		rev = resp.Header.Revision
		if !resp.Succeeded {
			if t.ambiguous { // an earlier attempt did delete it
				return nil
			}
			return fmt.Errorf("%s: %w", op, catalog.ErrNotFound)
		}
		for _, kv := range resp.Responses[0].GetResponseDeleteRange().PrevKvs {
			s.revoke(cli, clientv3.LeaseID(kv.Lease))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return s.settle(ctx, rev), nil
}

// SetInstanceState changes an instance's administrative state and nothing
// else, keeping its lease. The error wraps catalog.ErrNotFound if the
// service or the instance does not exist.
func (s *Store) SetInstanceState(ctx context.Context, service, id string, state catalog.InstanceState) (catalog.Instance, uint64, error) {
	op := fmt.Sprintf("set state of instance %q of service %q", id, service)
	cli, err := s.writable(ctx, op)
	if err != nil {
		return catalog.Instance{}, 0, err
	}
	svcKey, key := s.keys.service(service), s.keys.instance(service, id)
	var out catalog.Instance
	var rev int64
	err = s.do(ctx, op, func(ctx context.Context, t *tries) error {
		sn := snapshot{}
		if _, err := read(ctx, cli, sn, svcKey, key); err != nil {
			return fromEtcd(err)
		}
		if sn[svcKey] == nil {
			return fmt.Errorf("%s: service %q: %w", op, service, catalog.ErrNotFound)
		}
		if sn[key] == nil {
			return fmt.Errorf("%s: %w", op, catalog.ErrNotFound)
		}
		in, err := parseInstance(id, sn[key].Value)
		if err != nil {
			return fmt.Errorf("%s: the stored value of %s is bad (%v); register the instance again with PUT", op, key, err)
		}
		in.State = state
		data, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s: encode: %w", op, err)
		}
		resp, err := cli.Txn(ctx).If(sn.unchanged()...).
			Then(clientv3.OpPut(key, string(data), clientv3.WithIgnoreLease())).Commit()
		if err != nil {
			return fromEtcd(err)
		}
		if !resp.Succeeded {
			return errChanged
		}
		out, rev = in, resp.Header.Revision
		return nil
	})
	if err != nil {
		return catalog.Instance{}, 0, err
	}
	return out, s.settle(ctx, rev), nil
}

// Heartbeat renews the lease of an instance registered with a TTL, to its
// full TTL (etcd KeepAliveOnce). An instance without a lease needs no
// renewal; the call only checks it exists. The error wraps
// catalog.ErrNotFound if the instance is gone (its lease expired, or it
// was deleted): register it again.
func (s *Store) Heartbeat(ctx context.Context, service, id string) error {
	op := fmt.Sprintf("heartbeat of instance %q of service %q", id, service)
	cli, err := s.writable(ctx, op)
	if err != nil {
		return err
	}
	return s.do(ctx, op, func(ctx context.Context, _ *tries) error {
		resp, err := cli.Get(ctx, s.keys.instance(service, id))
		if err != nil {
			return fromEtcd(err)
		}
		if len(resp.Kvs) == 0 {
			return fmt.Errorf("%s: %w (expired or deleted; register it again)", op, catalog.ErrNotFound)
		}
		lease := clientv3.LeaseID(resp.Kvs[0].Lease)
		if lease == clientv3.NoLease {
			return nil
		}
		if _, err := cli.KeepAliveOnce(ctx, lease); err != nil {
			if errors.Is(err, rpctypes.ErrLeaseNotFound) {
				return fmt.Errorf("%s: %w (its lease expired; register it again)", op, catalog.ErrNotFound)
			}
			return fromEtcd(err)
		}
		return nil
	})
}

// revoke revokes leases that no key needs any more, best effort: a lease
// left behind only lingers until its TTL.
func (s *Store) revoke(cli *clientv3.Client, leases ...clientv3.LeaseID) {
	for _, l := range leases {
		if l == clientv3.NoLease {
			continue
		}
		ctx, cancel := context.WithTimeout(s.ctx, time.Second)
		if _, err := cli.Revoke(ctx, l); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
			s.log.Debug("etcd registry: revoke an unused lease", "lease", int64(l), "err", err)
		}
		cancel()
	}
}
