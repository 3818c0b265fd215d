package embedded

import (
	"context"
	"errors"
	"testing"

	"github.com/webrouter/webrouter/internal/registry"
)

func TestHandoff(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	old := open(t, dir, Options{})
	old.PutService(ctx, svc(t, "a", "a.com"))
	if err := old.Suspend(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := old.PutService(ctx, svc(t, "b", "b.com")); !errors.Is(err, registry.ErrUnavailable) {
		t.Errorf("write while suspended: %v, want ErrUnavailable", err)
	}
	if _, ok := old.State().Get("a"); !ok {
		t.Error("the state is gone while suspended")
	}
	// The new process can take the file, and writes to it.
	fresh := open(t, dir, Options{})
	fresh.PutService(ctx, svc(t, "c", "c.com"))
	fresh.Close()
	// Its start failed: the old one takes the file back and sees the write.
	if err := old.Resume(); err != nil {
		t.Fatal(err)
	}
	if _, ok := old.State().Get("c"); !ok {
		t.Error("resume did not reload what the new process wrote")
	}
	if _, _, err := old.PutService(ctx, svc(t, "d", "d.com")); err != nil {
		t.Errorf("write after resume: %v", err)
	}
	old.Close()
}
