package etcd

import (
	"context"
	"encoding/json"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/webrouter/webrouter/internal/catalog"
)

// PutCertificate creates or replaces a certificate under
// <prefix>/certificates/<name>. The value holds the private key: give etcd
// TLS and authentication (see the package documentation).
func (s *Store) PutCertificate(ctx context.Context, c *catalog.Certificate) (bool, uint64, error) {
	op := fmt.Sprintf("put certificate %q", c.Name)
	cli, err := s.writable(ctx, op)
	if err != nil {
		return false, 0, err
	}
	data, err := json.Marshal(c)
	if err != nil {
		return false, 0, fmt.Errorf("%s: encode: %w", op, err)
	}
	key := s.keys.certificate(c.Name)
	var created *bool
	var rev int64
	err = s.do(ctx, op, func(ctx context.Context, t *tries) error {
		resp, err := cli.Txn(ctx).Then(clientv3.OpPut(key, string(data), clientv3.WithPrevKV())).Commit()
		if err != nil {
			t.ambiguous = true
			return fromEtcd(err)
		}
		if created == nil {
			c := resp.Responses[0].GetResponsePut().PrevKv == nil
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

// DeleteCertificate removes a certificate. The error wraps
// catalog.ErrNotFound if there is none by that name.
func (s *Store) DeleteCertificate(ctx context.Context, name string) (uint64, error) {
	op := fmt.Sprintf("delete certificate %q", name)
	cli, err := s.writable(ctx, op)
	if err != nil {
		return 0, err
	}
	key := s.keys.certificate(name)
	var rev int64
	err = s.do(ctx, op, func(ctx context.Context, t *tries) error {
		resp, err := cli.Delete(ctx, key)
		if err != nil {
			t.ambiguous = true
			return fromEtcd(err)
		}
		if resp.Deleted == 0 && !t.ambiguous {
			return fmt.Errorf("%s: %w", op, catalog.ErrNotFound)
		}
		rev = resp.Header.Revision
		return nil
	})
	if err != nil {
		return 0, err
	}
	return s.settle(ctx, rev), nil
}
