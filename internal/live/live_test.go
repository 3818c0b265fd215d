package live

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/compile"
	"github.com/webrouter/webrouter/internal/upstream"
)

func TestWritesBecomeRoutableAndReadersSeeWholeGenerations(t *testing.T) {
	st := catalog.NewState()
	l := New(nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go l.Run(ctx, st.Subscribe(), compile.New(upstream.NewSet()))

	// Readers hammer the table while it changes; every table they load must
	// be internally consistent: its generation never goes back.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last uint64
			for {
				select {
				case <-stop:
					return
				default:
				}
				tb := l.Table()
				if tb.Gen < last {
					t.Errorf("generation went back from %d to %d", last, tb.Gen)
					return
				}
				last = tb.Gen
				tb.Lookup("demo.com", "/")
			}
		}()
	}
	for rev := uint64(1); rev <= 200; rev++ {
		s, _ := catalog.NewService("demo", catalog.ServiceSpec{Mountpoints: []string{"demo.com"}})
		if rev%2 == 0 {
			s, _ = catalog.NewService("demo", catalog.ServiceSpec{Mountpoints: []string{"demo.com/x"}})
		}
		st.PutService(rev, s)
		wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
		if err := l.WaitRev(wctx, rev); err != nil {
			t.Fatalf("WaitRev(%d): %v", rev, err)
		}
		wcancel()
		_, svc := l.Table().Lookup("demo.com", "/")
		if routed := svc != nil; routed != (rev%2 == 1) {
			t.Fatalf("rev %d: routed = %v right after WaitRev", rev, routed)
		}
	}
	close(stop)
	wg.Wait()
}

func TestWaitRevHonoursContext(t *testing.T) {
	l := New(nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.WaitRev(ctx, 5); err == nil {
		t.Error("WaitRev for a revision never compiled returned nil")
	}
	if err := l.WaitRev(context.Background(), 0); err != nil {
		t.Errorf("WaitRev(0) = %v", err)
	}
}
