package etcd

import (
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/webrouter/webrouter/internal/etcdtest"
)

// TestAuth: with etcd authentication on, a store with a user that may
// read and write the prefix works; wrong credentials leave it degraded
// with a reason that says so, and nothing is written.
func TestAuth(t *testing.T) {
	c := etcdtest.StartT(t, 1)
	pfx := prefix(t)
	cli := client(t, c)
	cx := ctx(t)
	for _, step := range []func() error{
		func() error { _, err := cli.RoleAdd(cx, "root"); return err },
		func() error { _, err := cli.UserAdd(cx, "root", "rootpw"); return err },
		func() error { _, err := cli.UserGrantRole(cx, "root", "root"); return err },
		func() error { _, err := cli.RoleAdd(cx, "wr"); return err },
		func() error {
			_, err := cli.RoleGrantPermission(cx, "wr", pfx+"/", clientv3.GetPrefixRangeEnd(pfx+"/"), clientv3.PermissionType(clientv3.PermReadWrite))
			return err
		},
		func() error { _, err := cli.UserAdd(cx, "webrouter", "pw"); return err },
		func() error { _, err := cli.UserGrantRole(cx, "webrouter", "wr"); return err },
		func() error { _, err := cli.AuthEnable(cx); return err },
	} {
		if err := step(); err != nil {
			t.Fatalf("set up etcd auth: %v", err)
		}
	}
	st := open(t, c.Endpoints(), pfx, func(o *Options) { o.User, o.Password = "webrouter", "pw" })
	if st.Status().State != "ok" {
		t.Fatalf("status with good credentials: %+v", st.Status())
	}
	if _, _, err := st.PutService(cx, svc(t, "demo", "demo.test")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.PutInstance(cx, "demo", inst(t, "a", 80, "5s")); err != nil {
		t.Fatal(err)
	}
	if err := st.Heartbeat(cx, "demo", "a"); err != nil {
		t.Fatal(err)
	}

	bad := open(t, c.Endpoints(), pfx, func(o *Options) { o.User, o.Password = "webrouter", "wrong"; o.StartTimeout = time.Second })
	if s := bad.Status(); s.State != "degraded" || !strings.Contains(s.Reason, "authentication failed") {
		t.Errorf("status with a wrong password: %+v; want degraded naming the authentication failure", s)
	}
	if strings.Contains(bad.log.String(), "wrong") {
		t.Error("the password was logged")
	}
}

// TestTLS: a store given the CA and a client certificate talks to members
// that require client certificates.
func TestTLS(t *testing.T) {
	c := etcdtest.StartTWith(t, 3, etcdtest.Options{TLS: true})
	files := c.TLS
	st := open(t, c.Endpoints(), prefix(t), func(o *Options) { o.CACert, o.Cert, o.Key = files.CACert, files.Cert, files.Key })
	if st.Status().State != "ok" {
		t.Fatalf("status over TLS: %+v", st.Status())
	}
	if _, _, err := st.PutService(ctx(t), svc(t, "demo", "demo.test")); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Options{Endpoints: c.Endpoints(), Cert: files.Cert}); err == nil || !strings.Contains(err.Error(), "--etcd-key") {
		t.Errorf("a certificate without its key: %v", err)
	}
	if _, err := Open(Options{Endpoints: c.Endpoints(), CACert: files.Key}); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("a CA file without a certificate: %v", err)
	}
}
